/* main.c — the quipu command line (placeholder until the commands land). */
#include <stdio.h>
int main(void) { fprintf(stderr, "quipu: not yet\n"); return 1; }
