/*
** search.h — searcher internals shared with snippet.c.
*/
#ifndef BLEND_SEARCH_SEARCH_H
#define BLEND_SEARCH_SEARCH_H

#include "search/query.h"
#include "util/util.h"

blend_analyzer *searcher_analyzer(blend_searcher *s);
bbuf *searcher_snippet_buf(blend_searcher *s);
/* Parse text with the searcher's analyzer and the index's field names. */
int searcher_parse(blend_searcher *s, query *q, const char *text, blend_error *err);

#endif
