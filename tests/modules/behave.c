/* A WAGI handler for the gateway conformance tests: PATH_INFO picks a behaviour. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

static void spin(long milliseconds)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < milliseconds);
}

int main(int argc, char **argv)
{
    const char *path = getenv("PATH_INFO");
    if (!path)
        path = "";
    if (strcmp(path, "/status") == 0) {
        fputs("Status: 404 Not Found\nContent-Type: text/plain\n\nnothing here", stdout);
    } else if (strcmp(path, "/location") == 0) {
        fputs("Location: /elsewhere\n\n", stdout);
    } else if (strcmp(path, "/no-content-type") == 0) {
        fputs("X-Custom: 1\n\nbody", stdout);
    } else if (strcmp(path, "/bad-status") == 0) {
        fputs("Status: abc\nContent-Type: text/plain\n\nbody", stdout);
    } else if (strcmp(path, "/trap") == 0) {
        fputs("Content-Type: text/plain\n\npartial", stdout);
        fflush(stdout);
        __builtin_trap();
    } else if (strcmp(path, "/loop") == 0) {
        volatile unsigned long counter = 0;
        for (;;)
            counter++;
    } else if (strcmp(path, "/stderr") == 0) {
        fputs("a line for the server log\n", stderr);
        fputs("Content-Type: text/plain\r\n\r\nlogged", stdout);
    } else if (strncmp(path, "/spin/", 6) == 0) {
        spin(atol(path + 6));
        fputs("Content-Type: text/plain\n\nspun", stdout);
    } else {
        /* Dump the request: environment, arguments, then the body. */
        fputs("Content-Type: text/plain\nX-Handler: behave\n\n", stdout);
        for (char **variable = environ; *variable; variable++)
            printf("env %s\n", *variable);
        for (int i = 0; i < argc; i++)
            printf("arg %s\n", argv[i]);
        fputs("body ", stdout);
        char buffer[4096];
        size_t n;
        while ((n = fread(buffer, 1, sizeof buffer, stdin)) > 0)
            fwrite(buffer, 1, n, stdout);
    }
    return 0;
}
