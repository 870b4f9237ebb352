/*
** page.c — the web page served at GET /, embedded in the binary: the
** assembler's .incbin copies src/server/page.html into .rodata at build time
** (no generated C file, no external asset, no CDN). The Makefile lists
** page.html as a prerequisite of this object so an edit rebuilds it.
*/
#include <stddef.h>

#include "server/server.h"

__asm__(".section .rodata\n"
        ".global server_page_html\n"
        ".type server_page_html, @object\n"
        ".balign 16\n"
        "server_page_html:\n"
        ".incbin \"src/server/page.html\"\n"
        ".global server_page_end\n"
        "server_page_end:\n"
        ".byte 0\n"
        ".previous\n");

extern const char server_page_end[];

size_t server_page_len(void) { return (size_t)(server_page_end - server_page_html); }
