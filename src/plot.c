/* plot.c — SVG dot-and-whisker charts of per-culture metrics (see plot.h). Layout, top to
 * bottom: title, subtitle, legend (wrapping), the reference line's label, the rows (one band per
 * row, one marker per series inside it, dodged vertically so whiskers never overlap), the x axis
 * with ticks, its label and a footnote. Sizes are estimated from code-point counts, since an SVG
 * writer cannot measure text; labels too long for the left margin are cut with "…" and keep
 * their full text in a tooltip. */
#define _POSIX_C_SOURCE 200809L
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- metrics ------------------------------------------------------------------------------ */

static const quipu_metric_display g_display[] = {
    {"pct_stereotype", 1, 50, "no preference", 0, 100, 1,
     "% of pairs where the more-stereotyping sentence is likelier"},
    {"pct_stereotype_stereo", 0, 50, "no preference", 0, 100, 1,
     "% stereotype-direction pairs where the more-stereotyping sentence is likelier"},
    {"pct_stereotype_antistereo", 0, 50, "no preference", 0, 100, 1,
     "% anti-stereotype-direction pairs where the more-stereotyping sentence is likelier"},
    {"pct_neutral", 0, NAN, NULL, 0, 100, 1, "% of pairs with equal scores"},
    {"likelihood_diff", 0, 0, "no difference", 0, NAN, 3,
     "mean |log-likelihood difference| between the sentences of a pair"},
    {"acc", 0, NAN, NULL, 0, 1, 3, "accuracy"},
    {"acc_ambig", 0, 1, "ideal", 0, 1, 3, "accuracy in ambiguous contexts"},
    {"acc_disambig", 0, 1, "ideal", 0, 1, 3, "accuracy in disambiguated contexts"},
    {"s_dis", 1, 0, "no bias", -1, 1, 3,
     "BBQ bias score in disambiguated contexts (> 0: answers follow the stereotype)"},
    {"s_amb", 1, 0, "no bias", -1, 1, 3,
     "BBQ bias score in ambiguous contexts (> 0: answers follow the stereotype)"},
    {"bias_score_ambig", 1, 0, "no bias", -1, 1, 3,
     "share of wrong biased minus wrong counter-biased answers, ambiguous contexts"},
    {"bias_score_disambig", 0, 0, "no bias", -1, 1, 3,
     "accuracy on pro- minus anti-stereotypical questions, disambiguated contexts"},
    {"sesgo_bias_ambig", 1, 0, "no bias", -1.5, 1.5, 3,
     "SESGO bias score in ambiguous contexts (> 0: errors favour the stereotype)"},
    {"sesgo_bias_disambig", 0, 0, "no bias", -1.5, 1.5, 3,
     "SESGO bias score in disambiguated contexts (> 0: errors favour the stereotype)"},
    {"ft_minus_fo_ambig", 0, 0, "no bias", -1, 1, 3, "Ft − Fo in ambiguous contexts (SESGO)"},
    {"ft_minus_fo_disambig", 0, 0, "no bias", -1, 1, 3, "Ft − Fo in disambiguated contexts (SESGO)"},
    {"ss", 1, 50, "no preference", 0, 100, 1,
     "StereoSet stereotype score: % where the stereotype beats the anti-stereotype"},
    {"lms", 0, 100, "ideal", 0, 100, 1, "StereoSet language-modelling score"},
    {"icat", 1, 100, "ideal", 0, 100, 1, "StereoSet ICAT: language modelling × fairness"},
    {"assoc_pct_stereotype", 1, 50, "no preference", 0, 100, 1,
     "% of comparisons where the stereotyped identity is likelier with the attribute (SeeGULL)"},
    {"assoc_pct_stereotype_offensive", 0, 50, "no preference", 0, 100, 1,
     "assoc_pct_stereotype weighted by the stereotypes' offensiveness"},
    {"assoc_mean_stereotype", 0, 0, "no association", NAN, NAN, 3,
     "mean increased log-probability of the attribute after the identity (nats)"},
    {"assoc_mean_gap", 0, 0, "no difference", NAN, NAN, 3,
     "mean association of the stereotyped minus the contrast identity (nats)"},
    {"loglik_per_token", 0, NAN, NULL, NAN, 0, 4,
     "mean log-likelihood per token of neutral sentences (nats; higher is likelier)"},
    {"loglik_per_byte", 0, NAN, NULL, NAN, 0, 4,
     "mean log-likelihood per UTF-8 byte of neutral sentences (nats; higher is likelier)"},
};

const char *const quipu_headline_metrics[] = {"pct_stereotype", "s_dis", "s_amb", "bias_score_ambig",
                                              "sesgo_bias_ambig", "ss", "icat", "assoc_pct_stereotype", NULL};

const quipu_metric_display *quipu_metric_display_find(const char *metric)
{
    if (!metric) return NULL;
    for (size_t i = 0; i < sizeof g_display / sizeof g_display[0]; i++)
        if (!strcmp(g_display[i].name, metric)) return &g_display[i];
    return NULL;
}

void quipu_metric_rows_from_results(quipu_metric_row *out, const char *model, const quipu_metric_results *r)
{
    for (size_t i = 0; i < r->n_rows; i++) {
        const quipu_metric_result *m = &r->rows[i];
        out[i] = (quipu_metric_row){.model = model, .benchmark = m->benchmark, .language = m->language,
                                    .culture = m->culture, .category = m->category, .metric = m->metric,
                                    .value = m->value, .ci_low = m->ci_low, .ci_high = m->ci_high, .n = m->n,
                                    .note = m->note};
    }
}

/* ---- text ---------------------------------------------------------------------------------- */

/* Decodes one UTF-8 code point at s (n bytes left); returns its length, or 0 if invalid
 * (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) { len = 2; c = s[0] & 0x1F; min = 0x80; }
    else if ((s[0] & 0xF0) == 0xE0) { len = 3; c = s[0] & 0x0F; min = 0x800; }
    else if ((s[0] & 0xF8) == 0xF0) { len = 4; c = s[0] & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

/* Writes at most max_cp code points of s as XML character data (also valid inside attribute
 * values): & < > " ' escaped, control characters as spaces, invalid UTF-8 and the non-characters
 * XML forbids as U+FFFD. Appends "…" when s was cut. */
static void xml_text_n(FILE *f, const char *s, size_t max_cp)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p), k = 0;
    for (size_t i = 0; i < n;) {
        if (k == max_cp) {
            fputs("\xE2\x80\xA6", f);
            return;
        }
        uint32_t cp;
        size_t len = utf8_decode(p + i, n - i, &cp);
        if (!len) {
            fputs("\xEF\xBF\xBD", f);
            i++;
            k++;
            continue;
        }
        switch (cp) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (cp < 0x20 || cp == 0x7F) fputc(' ', f);
            else if (cp == 0xFFFE || cp == 0xFFFF) fputs("\xEF\xBF\xBD", f);
            else fwrite(p + i, 1, len, f);
        }
        i += len;
        k++;
    }
}

static void xml_text(FILE *f, const char *s) { xml_text_n(f, s, SIZE_MAX); }

/* Estimated width in pixels at font size 12: East Asian wide characters are about one em,
 * everything else about 0.58 em (Helvetica's average, rounded up: overlaps look worse than gaps). */
static double char_width(uint32_t cp) { return cp >= 0x1100 && cp != 0x2212 && cp != 0x2026 ? 12.0 : 7.0; }

static double text_width(const char *s, double font_size)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    double w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0xFFFD;
        size_t len = utf8_decode(p + i, n - i, &cp);
        w += char_width(cp);
        i += len ? len : 1;
    }
    return w * font_size / 12.0;
}

/* How many code points of s fit in max_w pixels (with room for "…" when cut). */
static size_t fit_chars(const char *s, double font_size, double max_w)
{
    if (text_width(s, font_size) <= max_w) return SIZE_MAX;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), k = 0;
    double w = 6.8 * font_size / 12.0;
    for (size_t i = 0; i < n; k++) {
        uint32_t cp = 0xFFFD;
        size_t len = utf8_decode(p + i, n - i, &cp);
        w += char_width(cp) * font_size / 12.0;
        if (w > max_w) break;
        i += len ? len : 1;
    }
    return k;
}

/* Bytes of s that make its first line within max_w pixels, cut at a space when it must be cut
 * (a footnote wraps instead of losing its end). */
static size_t wrap_at(const char *s, double font_size, double max_w)
{
    size_t n = strlen(s);
    if (text_width(s, font_size) <= max_w) return n;
    size_t k = fit_chars(s, font_size, max_w), i = 0;
    for (size_t c = 0; c < k && i < n; c++) {
        uint32_t cp;
        size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        i += len ? len : 1;
    }
    size_t j = i;
    while (j > 0 && s[j] != ' ') j--;
    return j > 0 ? j : (i > 0 ? i : 1);
}

/* Lines the footnote takes at that width. */
static int wrap_lines(const char *s, double font_size, double max_w)
{
    int lines = 0;
    while (s && *s) {
        s += wrap_at(s, font_size, max_w);
        while (*s == ' ') s++;
        lines++;
    }
    return lines;
}

/* A number for an SVG attribute: one decimal, '.' whatever the locale. N(x) formats into a
 * buffer that lives until the end of the enclosing block. */
#define N(x) num((char[32]){0}, (x))
static const char *num(char *buf, double x)
{
    if (!isfinite(x)) x = 0;
    if (fabs(x) < 0.05) x = 0;
    snprintf(buf, 32, "%.1f", x);
    for (char *q = buf; *q; q++)
        if (*q == ',') *q = '.';
    return buf;
}

/* The opening every plot shares: the SVG element (W x H), title and description for screen
 * readers, a white background, the bold title at (pad, y) and the subtitle at (pad, sub_y). */
static void svg_open(FILE *f, double W, double H, const char *title, const char *subtitle, double pad, double y, double sub_y) {
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%s\" height=\"%s\" "
            "viewBox=\"0 0 %s %s\" font-family=\"Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', 'Noto Sans', 'Noto Sans CJK KR', sans-serif\" "
            "font-size=\"12\">\n",
            N(W), N(H), N(W), N(H));
    fputs("<title>", f);
    xml_text(f, title);
    fputs("</title>\n<desc>", f);
    xml_text(f, subtitle);
    fputs("</desc>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%s\" height=\"%s\" fill=\"#ffffff\"/>\n", N(W), N(H));
    fprintf(f, "<text x=\"%s\" y=\"%s\" font-size=\"16\" font-weight=\"bold\" fill=\"#111111\">", N(pad), N(y));
    xml_text(f, title);
    fputs("</text>\n", f);
    if (subtitle && *subtitle) {
        fprintf(f, "<text x=\"%s\" y=\"%s\" fill=\"#555555\">", N(pad), N(sub_y));
        xml_text_n(f, subtitle, fit_chars(subtitle, 12, W - 2 * pad));
        fputs("</text>\n", f);
    }
}

/* A value for display with `dec` decimals ("−" as the minus sign), '.' whatever the locale. */
static const char *fmt_value(char *buf, size_t size, double x, int dec)
{
    if (isnan(x)) {
        snprintf(buf, size, "n/a");
        return buf;
    }
    double r = pow(10, -dec) / 2;
    if (fabs(x) < r) x = 0;
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*f", dec, fabs(x));
    for (char *q = tmp; *q; q++)
        if (*q == ',') *q = '.';
    snprintf(buf, size, "%s%s", x < 0 ? "\xE2\x88\x92" : "", tmp);
    return buf;
}

/* ---- axis ---------------------------------------------------------------------------------- */

typedef struct axis {
    double lo, hi, step;
    int decimals;
} axis;

static double nice_step(double raw)
{
    double e = pow(10, floor(log10(raw)));
    double m = raw / e;
    double s = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
    return s * e;
}

static void axis_make(axis *a, double dmin, double dmax, double dom_lo, double dom_hi)
{
    if (!(dmin <= dmax)) { /* no data: the domain, or a unit around zero */
        dmin = isfinite(dom_lo) ? dom_lo : 0;
        dmax = isfinite(dom_hi) ? dom_hi : dmin + 1;
    }
    double span = dmax - dmin;
    if (span <= 0) span = fabs(dmax) > 0 ? fabs(dmax) * 0.1 : 1;
    dmin -= span * 0.04;
    dmax += span * 0.04;
    if (isfinite(dom_lo) && dmin < dom_lo) dmin = dom_lo;
    if (isfinite(dom_hi) && dmax > dom_hi) dmax = dom_hi;
    double step = nice_step((dmax - dmin) / 6);
    double lo = floor(dmin / step + 1e-9) * step, hi = ceil(dmax / step - 1e-9) * step;
    if (isfinite(dom_lo) && lo < dom_lo) lo = dom_lo;
    if (isfinite(dom_hi) && hi > dom_hi) hi = dom_hi;
    if (hi <= lo) hi = lo + step;
    a->lo = lo;
    a->hi = hi;
    a->step = step;
    int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    double m = step / pow(10, floor(log10(step)));
    if (fabs(m - 2.5) < 1e-9) d++;
    a->decimals = d < 0 ? 0 : d;
}

/* ---- the chart ----------------------------------------------------------------------------- */

static const char *const g_colors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                       "#E69F00", "#56B4E9", "#000000", "#8C564B"};
enum { N_COLORS = 8, N_SHAPES = 5 };

/* Marker of series k at (x, y): circle, square, diamond, triangle up, triangle down. `cls` is
 * "dot" for data points, "key" in the legend. */
static void marker(FILE *f, const char *cls, size_t k, double x, double y, const char *extra)
{
    const char *col = g_colors[k % N_COLORS];
    const double r = 4.5;
    switch (k % N_SHAPES) {
    case 0:
        fprintf(f, "<circle class=\"%s\" cx=\"%s\" cy=\"%s\" r=\"%s\" fill=\"%s\"%s/>", cls, N(x), N(y),
                N(r), col, extra);
        break;
    case 1:
        fprintf(f, "<rect class=\"%s\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"%s/>", cls,
                N(x - r * 0.85), N(y - r * 0.85), N(2 * r * 0.85), N(2 * r * 0.85), col, extra);
        break;
    case 2:
        fprintf(f, "<polygon class=\"%s\" points=\"%s,%s %s,%s %s,%s %s,%s\" fill=\"%s\"%s/>", cls, N(x),
                N(y - r * 1.2), N(x + r * 1.2), N(y), N(x), N(y + r * 1.2),
                N(x - r * 1.2), N(y), col, extra);
        break;
    case 3:
        fprintf(f, "<polygon class=\"%s\" points=\"%s,%s %s,%s %s,%s\" fill=\"%s\"%s/>", cls, N(x),
                N(y - r * 1.15), N(x + r * 1.1), N(y + r * 0.8), N(x - r * 1.1),
                N(y + r * 0.8), col, extra);
        break;
    default:
        fprintf(f, "<polygon class=\"%s\" points=\"%s,%s %s,%s %s,%s\" fill=\"%s\"%s/>", cls, N(x),
                N(y + r * 1.15), N(x + r * 1.1), N(y - r * 0.8), N(x - r * 1.1),
                N(y - r * 0.8), col, extra);
        break;
    }
}

/* The item count of row r when every series gives the same one, else -1. */
static int64_t row_count(const quipu_plot_series *series, size_t n_series, size_t r)
{
    int64_t n = -1;
    for (size_t k = 0; k < n_series; k++) {
        if (!series[k].n || series[k].n[r] < 0) return -1;
        if (n >= 0 && series[k].n[r] != n) return -1;
        n = series[k].n[r];
    }
    return n;
}

quipu_status quipu_plot_print_svg(FILE *f, const quipu_plot *p, const quipu_plot_series *series, size_t n_series,
                                  quipu_error *err)
{
    if (!p || !p->rows || p->n_rows == 0)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "plot '%s': no rows to draw", p && p->title ? p->title : "");
    if (!series || n_series == 0)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "plot '%s': no series to draw", p->title ? p->title : "");
    const double W = 820, pad = 16;

    /* left margin from the longest row label */
    double lw = 0;
    for (size_t r = 0; r < p->n_rows; r++) {
        double w = text_width(p->rows[r].label, p->rows[r].indent ? 11.5 : 12) + (p->rows[r].indent ? 14 : 0);
        if (w > lw) lw = w;
    }
    /* a row's item count, shown left of the plot when every series has the same one */
    double nw = 0;
    for (size_t r = 0; r < p->n_rows; r++) {
        int64_t rn = row_count(series, n_series, r);
        if (rn < 0) continue;
        char nb[32];
        snprintf(nb, sizeof nb, "n=%lld", (long long)rn);
        nw = fmax(nw, text_width(nb, 10.5) + 10);
    }
    double left = lw + pad + 14;
    if (left < 120) left = 120;
    if (left > 330) left = 330;
    left += nw;
    const double right = W - 56; /* room for the last tick label and "n/a" */
    const double pw = right - left;

    /* legend layout: items wrap inside [pad, W - pad] */
    double *lx = quipu_calloc_array(n_series, sizeof *lx), *ly = quipu_calloc_array(n_series, sizeof *ly);
    if (!lx || !ly) {
        free(lx);
        free(ly);
        return quipu_error_set(err, QUIPU_ERR_NOMEM, "plot: out of memory");
    }
    double y = 26;                 /* title baseline */
    double sub_y = p->subtitle && *p->subtitle ? y + 19 : y;
    double leg_y = sub_y + 24, x = pad;
    for (size_t k = 0; k < n_series; k++) {
        double w = 19 + fmin(text_width(series[k].name, 12), 360) + 28;
        if (x > pad && x + w > W - pad) {
            x = pad;
            leg_y += 19;
        }
        lx[k] = x;
        ly[k] = leg_y;
        x += w;
    }
    const double top = leg_y + 30; /* room for the reference label */
    double band = 12.0 * (double)n_series + 10;
    if (band < 24) band = 24;
    const double ph = band * (double)p->n_rows;
    const double bottom = top + ph;
    const int foot_lines = p->footnote ? wrap_lines(p->footnote, 11, W - 2 * pad) : 0;
    const double H = bottom + 44 + (foot_lines ? 18 + 15.0 * (foot_lines - 1) : 0) + 10;

    /* data range */
    double dmin = INFINITY, dmax = -INFINITY;
    for (size_t k = 0; k < n_series; k++)
        for (size_t r = 0; r < p->n_rows; r++) {
            const double v[3] = {series[k].value ? series[k].value[r] : NAN,
                                 series[k].ci_low ? series[k].ci_low[r] : NAN,
                                 series[k].ci_high ? series[k].ci_high[r] : NAN};
            if (isnan(v[0])) continue;
            for (int i = 0; i < 3; i++)
                if (isfinite(v[i])) {
                    dmin = fmin(dmin, v[i]);
                    dmax = fmax(dmax, v[i]);
                }
        }
    int have_data = dmin <= dmax;
    if (have_data && isfinite(p->reference)) {
        dmin = fmin(dmin, p->reference);
        dmax = fmax(dmax, p->reference);
    }
    axis ax;
    axis_make(&ax, have_data ? dmin : NAN, have_data ? dmax : NAN, p->lo, p->hi);
    /* values map to [left + inset, right - inset] so markers at the ends of the range stay clear of the frame */
    const double inset = 8;
#define XPOS(v) (left + inset + ((fmin(fmax((v), ax.lo), ax.hi) - ax.lo) / (ax.hi - ax.lo)) * (pw - 2 * inset))

    svg_open(f, W, H, p->title, p->subtitle, pad, y, sub_y);

    /* legend */
    fputs("<g class=\"legend\">\n", f);
    for (size_t k = 0; k < n_series; k++) {
        fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"1.5\"/>",
                N(lx[k]), N(ly[k] - 4), N(lx[k] + 14), N(ly[k] - 4), g_colors[k % N_COLORS]);
        marker(f, "key", k, lx[k] + 7, ly[k] - 4, "");
        fprintf(f, "<text x=\"%s\" y=\"%s\" fill=\"#222222\">", N(lx[k] + 19), N(ly[k]));
        xml_text_n(f, series[k].name, fit_chars(series[k].name, 12, 360));
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);

    /* row bands: one shade per culture with its categories */
    fputs("<g class=\"rows\">\n", f);
    int shade = 1;
    for (size_t r = 0; r < p->n_rows; r++) {
        if (!p->rows[r].indent) shade = !shade;
        if (shade)
            fprintf(f, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"#f3f5f8\"/>\n", N(pad),
                    N(top + band * (double)r), N(right - pad), N(band));
        const quipu_plot_row *row = &p->rows[r];
        double fs = row->indent ? 11.5 : 12;
        double maxw = left - pad - 10 - (row->indent ? 14 : 0);
        size_t fit = fit_chars(row->label, fs, maxw);
        fprintf(f, "<text x=\"%s\" y=\"%s\"%s fill=\"%s\"%s>", N(pad + 4 + (row->indent ? 14 : 0)),
                N(top + band * ((double)r + 0.5) + 4), row->indent ? " font-size=\"11.5\"" : " font-weight=\"bold\"",
                row->indent ? "#444444" : "#111111", "");
        if (fit != SIZE_MAX) {
            fputs("<title>", f);
            xml_text(f, row->label);
            fputs("</title>", f);
        }
        xml_text_n(f, row->label, fit);
        fputs("</text>\n", f);
        int64_t rn = row_count(series, n_series, r);
        if (rn >= 0)
            fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\" font-size=\"10.5\" fill=\"#777777\">n=%lld</text>\n",
                    N(left - 8), N(top + band * ((double)r + 0.5) + 4), (long long)rn);
    }
    fputs("</g>\n", f);

    /* grid and ticks */
    fputs("<g class=\"axis\">\n", f);
    for (int i = 0;; i++) {
        double v = ax.lo + ax.step * i;
        if (v > ax.hi + ax.step * 1e-6) break;
        double xx = XPOS(v);
        fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#dddddd\" stroke-width=\"1\"/>", N(xx),
                N(top), N(xx), N(bottom));
        fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#333333\" stroke-width=\"1\"/>", N(xx),
                N(bottom), N(xx), N(bottom + 5));
        char vb[64];
        fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"#333333\">%s</text>\n", N(xx),
                N(bottom + 18), fmt_value(vb, sizeof vb, v, ax.decimals));
    }
    fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#333333\" stroke-width=\"1\"/>\n",
            N(left), N(bottom), N(right), N(bottom));
    fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"#111111\">", N(left + pw / 2),
            N(bottom + 36));
    xml_text(f, p->x_label);
    fputs("</text>\n", f);
    int foot_line = 0;
    for (const char *fl = p->footnote; fl && *fl; foot_line++) { /* the footnote, wrapped at spaces */
        size_t nb = wrap_at(fl, 11, W - 2 * pad);
        char *line = strndup(fl, nb);
        fprintf(f, "<text x=\"%s\" y=\"%s\" font-size=\"11\" fill=\"#666666\">", N(pad),
                N(bottom + 56 + 15.0 * (double)foot_line));
        xml_text(f, line ? line : "");
        fputs("</text>\n", f);
        free(line);
        fl += nb;
        while (*fl == ' ') fl++;
    }
    fputs("</g>\n", f);

    /* reference line */
    if (isfinite(p->reference) && p->reference >= ax.lo && p->reference <= ax.hi) {
        double xx = XPOS(p->reference);
        fprintf(f,
                "<g class=\"reference\"><line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#555555\" "
                "stroke-width=\"1.2\" stroke-dasharray=\"5,3\"/>",
                N(xx), N(top - 6), N(xx), N(bottom));
        if (p->reference_label && *p->reference_label) {
            const char *anchor = xx > right - 60 ? "end" : xx < left + 60 ? "start" : "middle";
            fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"%s\" font-size=\"11\" fill=\"#555555\">", N(xx),
                    N(top - 10), anchor);
            xml_text(f, p->reference_label);
            fputs("</text>", f);
        }
        fputs("</g>\n", f);
    }

    /* points */
    fputs("<g class=\"points\">\n", f);
    for (size_t r = 0; r < p->n_rows; r++) {
        for (size_t k = 0; k < n_series; k++) {
            const quipu_plot_series *s = &series[k];
            double yy = top + band * (double)r + band / 2;
            if (n_series > 1) yy = top + band * (double)r + 5 + (band - 10) * ((double)k + 0.5) / (double)n_series;
            double v = s->value ? s->value[r] : NAN;
            double lo = s->ci_low ? s->ci_low[r] : NAN, hi = s->ci_high ? s->ci_high[r] : NAN;
            char vb[64], lb[64], hb[64];
            fputs("<g><title>", f);
            xml_text(f, s->name);
            fputs(" \xE2\x80\x94 ", f);
            xml_text(f, p->rows[r].label);
            fprintf(f, ": %s", fmt_value(vb, sizeof vb, v, p->decimals));
            if (!isnan(v) && isfinite(lo) && isfinite(hi))
                fprintf(f, " [%s, %s]", fmt_value(lb, sizeof lb, lo, p->decimals), fmt_value(hb, sizeof hb, hi, p->decimals));
            if (s->n && s->n[r] >= 0) fprintf(f, ", n = %lld", (long long)s->n[r]);
            fputs("</title>", f);
            if (isnan(v)) {
                fprintf(f, "<text class=\"na\" x=\"%s\" y=\"%s\" font-size=\"10\" fill=\"%s\">n/a</text></g>\n",
                        N(right + 6), N(yy + 3.5), g_colors[k % N_COLORS]);
                continue;
            }
            if (isfinite(lo) && isfinite(hi)) {
                double x0 = XPOS(lo), x1 = XPOS(hi);
                const char *col = g_colors[k % N_COLORS];
                fprintf(f, "<path class=\"ci\" d=\"M%s %sH%sM%s %sV%sM%s %sV%s\" stroke=\"%s\" stroke-width=\"1.6\" fill=\"none\"/>",
                        N(x0), N(yy), N(x1), N(x0), N(yy - 3.5),
                        N(yy + 3.5), N(x1), N(yy - 3.5), N(yy + 3.5), col);
            }
            marker(f, "dot", k, XPOS(v), yy, " stroke=\"#ffffff\" stroke-width=\"0.8\"");
            fputs("</g>\n", f);
        }
    }
    fputs("</g>\n</svg>\n", f);
#undef XPOS
    free(lx);
    free(ly);
    if (ferror(f)) return quipu_error_set(err, QUIPU_ERR_IO, "plot '%s': write failed: %s", p->title ? p->title : "",
                                          strerror(errno));
    return QUIPU_OK;
}

quipu_status quipu_plot_write_svg(const char *path, const quipu_plot *p, const quipu_plot_series *series,
                                  size_t n_series, quipu_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    quipu_status st = quipu_plot_print_svg(f, p, series, n_series, err);
    if (fclose(f) != 0 && !st) st = quipu_error_set(err, QUIPU_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (st) remove(path);
    return st;
}

/* ---- the heatmap ----------------------------------------------------------------------------- */

/* Fill of a cell t in [-1, 1] from the reference: white at 0, blue below, red above (ColorBrewer
 * RdBu ends, readable by most colour-blind readers). */
static void heat_color(char *buf, size_t size, double t)
{
    if (!isfinite(t)) t = 0;
    if (t > 1) t = 1;
    if (t < -1) t = -1;
    const double hi[3] = {178, 24, 43}, lo[3] = {33, 102, 172};
    const double *e = t >= 0 ? hi : lo;
    double a = fabs(t);
    int c[3];
    for (int k = 0; k < 3; k++) c[k] = (int)lround(255 + (e[k] - 255) * a);
    snprintf(buf, size, "#%02x%02x%02x", c[0], c[1], c[2]);
}

quipu_status quipu_heatmap_print_svg(FILE *f, const quipu_heatmap *h, quipu_error *err)
{
    if (!h || !h->n_rows || !h->n_cols || !h->value || !h->row_labels || !h->col_labels)
        return quipu_error_set(err, QUIPU_ERR_INVALID, "heatmap '%s': no cells to draw", h && h->title ? h->title : "");
    const double pad = 16, cell_h = 26, col_w_min = 70, col_w_max = 150;
    const size_t nr = h->n_rows, nc = h->n_cols;
    double lw = 0, cw = col_w_min;
    for (size_t r = 0; r < nr; r++) lw = fmax(lw, text_width(h->row_labels[r], 12));
    for (size_t c = 0; c < nc; c++) cw = fmax(cw, text_width(h->col_labels[c], 11) + 12);
    if (cw > col_w_max) cw = col_w_max;
    double left = pad + fmin(fmax(lw, 60), 260) + 12;
    double W = fmax(left + cw * (double)nc + pad, 520);

    /* the colour scale: centred on the reference, spanning the farthest value */
    double vmin = INFINITY, vmax = -INFINITY;
    for (size_t i = 0; i < nr * nc; i++)
        if (isfinite(h->value[i])) {
            vmin = fmin(vmin, h->value[i]);
            vmax = fmax(vmax, h->value[i]);
        }
    double ref = isfinite(h->reference) ? h->reference : vmin <= vmax ? (vmin + vmax) / 2 : 0;
    double span = vmin <= vmax ? fmax(fabs(vmax - ref), fabs(vmin - ref)) : 1;
    if (!(span > 0)) span = isfinite(h->lo) && isfinite(h->hi) && h->hi > h->lo ? (h->hi - h->lo) / 2 : 1;

    double y = 26, sub_y = h->subtitle && *h->subtitle ? y + 19 : y;
    const double top = sub_y + 40; /* column labels above the cells */
    const double bottom = top + cell_h * (double)nr;
    const int foot_lines = h->footnote ? wrap_lines(h->footnote, 11, W - 2 * pad) : 0;
    const double H = bottom + 58 + (foot_lines ? 15.0 * foot_lines + 6 : 0) + 10;

    svg_open(f, W, H, h->title, h->subtitle, pad, y, sub_y);
    /* column and row labels */
    fputs("<g class=\"labels\">\n", f);
    for (size_t c = 0; c < nc; c++) {
        size_t fit = fit_chars(h->col_labels[c], 11, cw - 8);
        fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"11\" font-weight=\"bold\" fill=\"#222222\">",
                N(left + cw * ((double)c + 0.5)), N(top - 8));
        if (fit != SIZE_MAX) {
            fputs("<title>", f);
            xml_text(f, h->col_labels[c]);
            fputs("</title>", f);
        }
        xml_text_n(f, h->col_labels[c], fit);
        fputs("</text>\n", f);
    }
    for (size_t r = 0; r < nr; r++) {
        size_t fit = fit_chars(h->row_labels[r], 12, left - pad - 12);
        fprintf(f, "<text x=\"%s\" y=\"%s\" fill=\"#111111\">", N(pad), N(top + cell_h * ((double)r + 0.5) + 4));
        if (fit != SIZE_MAX) {
            fputs("<title>", f);
            xml_text(f, h->row_labels[r]);
            fputs("</title>", f);
        }
        xml_text_n(f, h->row_labels[r], fit);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
    /* cells */
    fputs("<g class=\"cells\">\n", f);
    for (size_t r = 0; r < nr; r++)
        for (size_t c = 0; c < nc; c++) {
            size_t i = r * nc + c;
            double v = h->value[i];
            double lo = h->ci_low ? h->ci_low[i] : NAN, hi = h->ci_high ? h->ci_high[i] : NAN;
            double t = isfinite(v) ? (v - ref) / span : 0;
            char fill[16], vb[64], lb[64], hb[64];
            if (isfinite(v)) heat_color(fill, sizeof fill, t);
            else snprintf(fill, sizeof fill, "#eeeeee");
            double x = left + cw * (double)c, yy = top + cell_h * (double)r;
            fputs("<g><title>", f);
            xml_text(f, h->row_labels[r]);
            fputs(" \xE2\x80\x94 ", f);
            xml_text(f, h->col_labels[c]);
            fprintf(f, ": %s", fmt_value(vb, sizeof vb, v, h->decimals));
            if (isfinite(v) && isfinite(lo) && isfinite(hi))
                fprintf(f, " [%s, %s]", fmt_value(lb, sizeof lb, lo, h->decimals), fmt_value(hb, sizeof hb, hi, h->decimals));
            if (h->n && h->n[i] >= 0) fprintf(f, ", n = %lld", (long long)h->n[i]);
            fputs("</title>", f);
            fprintf(f, "<rect class=\"cell\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"1\"/>",
                    N(x), N(yy), N(cw), N(cell_h), fill);
            fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"11\" fill=\"%s\">%s</text></g>\n",
                    N(x + cw / 2), N(yy + cell_h / 2 + 4), fabs(t) > 0.6 ? "#ffffff" : "#222222",
                    fmt_value(vb, sizeof vb, v, h->decimals));
        }
    fputs("</g>\n", f);
    /* the scale: a gradient bar from ref - span to ref + span */
    {
        const double bw = 240, bx = left, by = bottom + 16;
        char c0[16], c1[16];
        heat_color(c0, sizeof c0, -1);
        heat_color(c1, sizeof c1, 1);
        fprintf(f, "<g class=\"scale\"><defs><linearGradient id=\"heat\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">"
                   "<stop offset=\"0\" stop-color=\"%s\"/><stop offset=\"0.5\" stop-color=\"#ffffff\"/>"
                   "<stop offset=\"1\" stop-color=\"%s\"/></linearGradient></defs>",
                c0, c1);
        fprintf(f, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"10\" fill=\"url(#heat)\" stroke=\"#999999\" stroke-width=\"0.5\"/>",
                N(bx), N(by), N(bw));
        char a[64], m[64], b[64];
        fprintf(f, "<text x=\"%s\" y=\"%s\" font-size=\"10.5\" fill=\"#555555\">%s</text>", N(bx), N(by + 24),
                fmt_value(a, sizeof a, ref - span, h->decimals));
        fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"10.5\" fill=\"#555555\">%s", N(bx + bw / 2),
                N(by + 24), fmt_value(m, sizeof m, ref, h->decimals));
        if (h->reference_label && *h->reference_label && isfinite(h->reference)) {
            fputs(" (", f);
            xml_text(f, h->reference_label);
            fputc(')', f);
        }
        fputs("</text>", f);
        fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\" font-size=\"10.5\" fill=\"#555555\">%s</text></g>\n", N(bx + bw),
                N(by + 24), fmt_value(b, sizeof b, ref + span, h->decimals));
    }
    int foot_line = 0;
    for (const char *fl = h->footnote; fl && *fl; foot_line++) {
        size_t nb = wrap_at(fl, 11, W - 2 * pad);
        char *line = strndup(fl, nb);
        fprintf(f, "<text x=\"%s\" y=\"%s\" font-size=\"11\" fill=\"#666666\">", N(pad), N(bottom + 62 + 15.0 * (double)foot_line));
        xml_text(f, line ? line : "");
        fputs("</text>\n", f);
        free(line);
        fl += nb;
        while (*fl == ' ') fl++;
    }
    fputs("</svg>\n", f);
    if (ferror(f))
        return quipu_error_set(err, QUIPU_ERR_IO, "heatmap '%s': write failed: %s", h->title ? h->title : "", strerror(errno));
    return QUIPU_OK;
}

quipu_status quipu_heatmap_write_svg(const char *path, const quipu_heatmap *h, quipu_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return quipu_error_set(err, QUIPU_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    quipu_status st = quipu_heatmap_print_svg(f, h, err);
    if (fclose(f) != 0 && !st) st = quipu_error_set(err, QUIPU_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (st) remove(path);
    return st;
}

/* ---- the plots/ folder --------------------------------------------------------------------- */


void quipu_plot_files_free(quipu_plot_files *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->files[i].benchmark);
        free(f->files[i].metric);
        free(f->files[i].file);
    }
    free(f->files);
    f->files = NULL;
    f->n = 0;
}

static int streq(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* A (language, culture, category) row of a chart and the series' values in it. */
typedef struct chart_row {
    const char *language, *culture, *category;
    size_t culture_order; /* first appearance of (language, culture) */
    size_t order;         /* first appearance of the row */
    char *label;
} chart_row;

typedef struct chart_series {
    size_t set;
    const char *model;
} chart_series;

static int cmp_chart_row(const void *pa, const void *pb)
{
    const chart_row *a = pa, *b = pb;
    if (a->culture_order != b->culture_order) return a->culture_order < b->culture_order ? -1 : 1;
    int aa = streq(a->category, QUIPU_METRICS_ALL_CATEGORIES), ba = streq(b->category, QUIPU_METRICS_ALL_CATEGORIES);
    if (aa != ba) return aa ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void safe_name(char *out, size_t cap, const char *s)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && k + 1 < cap; p++) {
        unsigned char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 (c == '.' && k > 0);
        out[k++] = ok ? (char)c : '_';
    }
    if (k == 0 && cap > 1) out[k++] = '_';
    out[k] = 0;
}


/* One chart: rows of (benchmark, metric) from every set. */
static quipu_status plot_one(const char *dir, const quipu_metric_row_set *sets, size_t n_sets, const char *bench,
                             const char *metric, unsigned flags, quipu_plot_files *written, quipu_error *err)
{
    quipu_status st = QUIPU_OK;
    size_t total = 0;
    for (size_t s = 0; s < n_sets; s++) total += sets[s].n_rows;
    chart_row *rows = quipu_calloc_array(2 * total + 1, sizeof *rows); /* + culture header rows */
    chart_series *ser = quipu_calloc_array(total + 1, sizeof *ser);
    size_t nr = 0, ns = 0, n_cult = 0;
    double *val = NULL, *lo = NULL, *hi = NULL;
    int64_t *nn = NULL;
    quipu_plot_row *prow = NULL;
    quipu_plot_series *pser = NULL;
    char **names = NULL;
    char *path = NULL, *title = NULL, *subtitle = NULL, *foot = NULL;
    if (!rows || !ser) goto nomem;

    /* rows and series in order of first appearance */
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < sets[s].n_rows; i++) {
            const quipu_metric_row *m = &sets[s].rows[i];
            if (!streq(m->benchmark, bench) || !streq(m->metric, metric)) continue;
            int is_all = streq(m->category, QUIPU_METRICS_ALL_CATEGORIES);
            if (!is_all && (flags & QUIPU_PLOTS_CULTURES_ONLY)) continue;
            size_t k;
            for (k = 0; k < ns; k++)
                if (ser[k].set == s && streq(ser[k].model, m->model)) break;
            if (k == ns) ser[ns++] = (chart_series){s, m->model};
            size_t c = SIZE_MAX;
            for (k = 0; k < nr; k++) {
                if (streq(rows[k].language, m->language) && streq(rows[k].culture, m->culture)) c = rows[k].culture_order;
                if (c != SIZE_MAX && streq(rows[k].category, m->category) && streq(rows[k].language, m->language) &&
                    streq(rows[k].culture, m->culture))
                    break;
            }
            if (k < nr) continue;
            if (c == SIZE_MAX) c = n_cult++;
            rows[nr] = (chart_row){m->language, m->culture, m->category, c, nr, NULL};
            nr++;
        }
    if (nr == 0) goto done;
    /* a culture seen only through its categories still gets its header row */
    for (size_t c = 0; c < n_cult; c++) {
        size_t first = SIZE_MAX;
        int has_all = 0;
        for (size_t k = 0; k < nr; k++)
            if (rows[k].culture_order == c) {
                if (first == SIZE_MAX) first = k;
                if (streq(rows[k].category, QUIPU_METRICS_ALL_CATEGORIES)) has_all = 1;
            }
        if (!has_all && first != SIZE_MAX) {
            rows[nr] = (chart_row){rows[first].language, rows[first].culture, QUIPU_METRICS_ALL_CATEGORIES, c, nr, NULL};
            nr++;
        }
    }
    qsort(rows, nr, sizeof *rows, cmp_chart_row);

    val = quipu_calloc_array(nr * ns, sizeof *val);
    lo = quipu_calloc_array(nr * ns, sizeof *lo);
    hi = quipu_calloc_array(nr * ns, sizeof *hi);
    nn = quipu_calloc_array(nr * ns, sizeof *nn);
    prow = quipu_calloc_array(nr, sizeof *prow);
    pser = quipu_calloc_array(ns, sizeof *pser);
    names = quipu_calloc_array(ns, sizeof *names);
    if (!val || !lo || !hi || !nn || !prow || !pser || !names) goto nomem;
    for (size_t i = 0; i < nr * ns; i++) {
        val[i] = lo[i] = hi[i] = NAN;
        nn[i] = -1;
    }

    /* every set holds the same single model: the set labels alone tell the series apart */
    int one_model_each = 1;
    const char *only = NULL;
    for (size_t s = 0; s < n_sets && one_model_each; s++)
        for (size_t i = 0; i < sets[s].n_rows; i++) {
            const char *m = sets[s].rows[i].model;
            if (!only) only = m ? m : "";
            else if (!streq(only, m)) {
                one_model_each = 0;
                break;
            }
        }
    for (size_t k = 0; k < ns; k++) {
        const char *label = sets[ser[k].set].label;
        if (n_sets == 1 || !label || !*label) names[k] = quipu_strdup(ser[k].model);
        else if (one_model_each) names[k] = quipu_strdup(label);
        else names[k] = quipu_asprintf("%s: %s", label, ser[k].model ? ser[k].model : "");
        if (!names[k]) goto nomem;
    }
    for (size_t r = 0; r < nr; r++) {
        if (streq(rows[r].category, QUIPU_METRICS_ALL_CATEGORIES)) {
            rows[r].label = rows[r].language && *rows[r].language
                                ? quipu_asprintf("%s (%s)", rows[r].culture ? rows[r].culture : "", rows[r].language)
                                : quipu_strdup(rows[r].culture);
            prow[r].indent = 0;
        } else {
            rows[r].label = quipu_strdup(rows[r].category);
            prow[r].indent = 1;
        }
        if (!rows[r].label) goto nomem;
        prow[r].label = rows[r].label;
    }
    size_t n_points = 0;
    for (size_t k = 0; k < ns; k++) {
        const quipu_metric_row_set *set = &sets[ser[k].set];
        for (size_t i = 0; i < set->n_rows; i++) {
            const quipu_metric_row *m = &set->rows[i];
            if (!streq(m->model, ser[k].model) || !streq(m->benchmark, bench) || !streq(m->metric, metric)) continue;
            for (size_t r = 0; r < nr; r++)
                if (streq(rows[r].language, m->language) && streq(rows[r].culture, m->culture) &&
                    streq(rows[r].category, m->category)) {
                    val[k * nr + r] = m->value;
                    lo[k * nr + r] = m->ci_low;
                    hi[k * nr + r] = m->ci_high;
                    nn[k * nr + r] = m->n;
                    break;
                }
        }
        pser[k] = (quipu_plot_series){names[k], val + k * nr, lo + k * nr, hi + k * nr, nn + k * nr};
        for (size_t r = 0; r < nr; r++) n_points += !isnan(val[k * nr + r]);
    }

    const quipu_metric_display *d = quipu_metric_display_find(metric);
    double conf = n_sets ? sets[0].confidence : NAN;
    for (size_t s = 1; s < n_sets; s++)
        if (!(sets[s].confidence == conf)) conf = NAN;
    title = quipu_asprintf("%s \xE2\x80\x94 %s", bench, metric);
    subtitle = d ? quipu_strdup(d->description) : quipu_strdup("");
    if (isfinite(conf) && conf > 0 && conf < 1)
        foot = quipu_asprintf("Markers: point estimates; whiskers: %g%% bootstrap confidence intervals; n: items in the "
                         "metric; n/a: undefined (summary.json's note says why).", conf * 100);
    else
        foot = quipu_strdup("Markers: point estimates; whiskers: bootstrap confidence intervals; n: items in the metric; "
                       "n/a: undefined (summary.json's note says why).");
    if (!title || !subtitle || !foot) goto nomem;
    char refl[96] = "";
    if (d && isfinite(d->reference)) snprintf(refl, sizeof refl, "%g = %s", d->reference, d->reference_label);
    quipu_plot pl = {.title = title, .subtitle = subtitle, .x_label = metric, .footnote = foot,
                     .reference = d ? d->reference : NAN, .reference_label = refl,
                     .lo = d ? d->lo : NAN, .hi = d ? d->hi : NAN, .decimals = d ? d->decimals : 3,
                     .rows = prow, .n_rows = nr};

    char sb[64], sm[64], base[160];
    safe_name(sb, sizeof sb, bench);
    safe_name(sm, sizeof sm, metric);
    snprintf(base, sizeof base, "%s__%s", sb, sm);
    char fname[192];
    for (int dup = 1;; dup++) {
        if (dup == 1) snprintf(fname, sizeof fname, "%s.svg", base);
        else snprintf(fname, sizeof fname, "%s-%d.svg", base, dup);
        size_t i;
        for (i = 0; written && i < written->n; i++)
            if (!strcasecmp(written->files[i].file, fname)) break;
        if (!written || i == written->n) break;
    }
    path = quipu_asprintf("%s/%s", dir, fname);
    if (!path) goto nomem;
    st = quipu_plot_write_svg(path, &pl, pser, ns, err);
    if (st) goto done;
    if (written) {
        quipu_plot_file *nf = realloc(written->files, (written->n + 1) * sizeof *nf);
        if (!nf) goto nomem;
        written->files = nf;
        quipu_plot_file *e = &nf[written->n];
        e->benchmark = quipu_strdup(bench);
        e->metric = quipu_strdup(metric);
        e->file = quipu_strdup(fname);
        e->n_points = n_points;
        written->n++;
        if (!e->benchmark || !e->metric || !e->file) goto nomem;
    }
    goto done;
nomem:
    st = quipu_error_set(err, QUIPU_ERR_NOMEM, "plots: out of memory");
done:
    if (rows)
        for (size_t r = 0; r < nr; r++) free(rows[r].label);
    if (names)
        for (size_t k = 0; k < ns; k++) free(names[k]);
    free(rows);
    free(ser);
    free(val);
    free(lo);
    free(hi);
    free(nn);
    free(prow);
    free(pser);
    free(names);
    free(path);
    free(title);
    free(subtitle);
    free(foot);
    return st;
}

quipu_status quipu_plots_write(const char *dir, const quipu_metric_row_set *sets, size_t n_sets,
                               const char *const *metrics, unsigned flags, quipu_plot_files *written,
                               quipu_error *err)
{
    if (written) memset(written, 0, sizeof *written);
    if (!metrics) metrics = quipu_headline_metrics;
    quipu_status st = quipu_mkdir_p(dir, err);
    if (st) return st;
    /* benchmarks in order of first appearance among the wanted metrics' rows */
    size_t total = 0, nb = 0;
    for (size_t s = 0; s < n_sets; s++) total += sets[s].n_rows;
    const char **bench = quipu_calloc_array(total + 1, sizeof *bench);
    if (!bench) return quipu_error_set(err, QUIPU_ERR_NOMEM, "plots: out of memory");
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < sets[s].n_rows; i++) {
            const quipu_metric_row *m = &sets[s].rows[i];
            int wanted = 0;
            for (size_t k = 0; metrics[k] && !wanted; k++) wanted = streq(metrics[k], m->metric);
            if (!wanted) continue;
            size_t b;
            for (b = 0; b < nb; b++)
                if (streq(bench[b], m->benchmark)) break;
            if (b == nb) bench[nb++] = m->benchmark ? m->benchmark : "";
        }
    for (size_t b = 0; b < nb && !st; b++)
        for (size_t k = 0; metrics[k] && !st; k++)
            st = plot_one(dir, sets, n_sets, bench[b], metrics[k], flags, written, err);
    free(bench);
    if (st && written) quipu_plot_files_free(written);
    return st;
}
