/* A WASI command for the runner tests: prints its arguments and one environment
   variable, copies stdin to stdout, writes a file into a preopened folder, and exits
   with the code given by the argument "exit=N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int code = 0;
    for (int i = 0; i < argc; i++) {
        printf("argv[%d]=%s\n", i, argv[i]);
        if (strncmp(argv[i], "exit=", 5) == 0)
            code = atoi(argv[i] + 5);
        if (strncmp(argv[i], "write=", 6) == 0) {
            FILE *file = fopen(argv[i] + 6, "w");
            if (!file) {
                perror("fopen");
                return 9;
            }
            fputs("written by the module\n", file);
            fclose(file);
        }
    }
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    char buffer[256];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, stdin)) > 0)
        fwrite(buffer, 1, n, stdout);
    fprintf(stderr, "to stderr\n");
    return code;
}
