/*
** plot.c — the tuning plot: metric against the first leg's share of the
** weight (α for two legs), one line per normaliser under convex
** combination and one for RRF (k = 60). Hand-written SVG (no library),
** viewable in any browser; written atomically.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fusion/fusion.h"
#include "util/util.h"

#define NX 21 /* x buckets: 0, 0.05, ..., 1 */
#define W 860
#define H 520
#define ML 70
#define MR 190
#define MT 50
#define MB 60

static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#000000"};

static void esc(bbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '<') bbuf_printf(b, "&lt;");
    else if (*s == '>') bbuf_printf(b, "&gt;");
    else if (*s == '&') bbuf_printf(b, "&amp;");
    else bbuf_putc(b, (uint8_t)*s);
  }
}

int tune_plot_svg(const char *path, const char *title, const char *metric,
                  const tune_config *cfg, uint32_t ncfg, uint32_t nlegs, blend_error *err) {
  enum { NS = 9 }; /* 8 normalisers + RRF */
  double y[NS][NX];
  for (int s = 0; s < NS; s++)
    for (int x = 0; x < NX; x++) y[s][x] = NAN;
  double lo = INFINITY, hi = -INFINITY;
  for (uint32_t c = 0; c < ncfg; c++) {
    const blend_fusion_options *o = &cfg[c].fo;
    int s;
    if (o->fusion == BLEND_FUSION_CC) s = o->norm;
    else if (o->fusion == BLEND_FUSION_RRF && o->rrf_k == 60) s = NS - 1;
    else continue;
    double w[BLEND_MAX_LEGS], sum = 0;
    blend_fusion_weights(o, nlegs, w);
    for (uint32_t i = 0; i < nlegs; i++) sum += w[i];
    int x = (int)lround(w[0] / sum * (NX - 1));
    if (x < 0 || x >= NX) continue;
    if (isnan(y[s][x]) || cfg[c].mean > y[s][x]) y[s][x] = cfg[c].mean;
    if (cfg[c].mean < lo) lo = cfg[c].mean;
    if (cfg[c].mean > hi) hi = cfg[c].mean;
  }
  if (!(hi >= lo)) lo = 0, hi = 1;
  /* round the y range out to 0.05 */
  lo = floor(lo * 20) / 20;
  hi = ceil(hi * 20) / 20;
  if (hi - lo < 0.05) hi = lo + 0.05;
  double pw = W - ML - MR, ph = H - MT - MB;
#define PX(x) (ML + (x) * pw)
#define PY(v) (MT + (1 - ((v) - lo) / (hi - lo)) * ph)
  bbuf b = {0};
  bbuf_printf(&b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
              "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
              W, H, W, H);
  bbuf_printf(&b, "<text x=\"%d\" y=\"28\" font-size=\"15\" font-weight=\"bold\">", ML);
  esc(&b, title);
  bbuf_printf(&b, "</text>\n");
  /* grid and ticks */
  for (int i = 0; i <= 10; i++) {
    double x = PX(i / 10.0);
    bbuf_printf(&b,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f</text>\n",
                x, MT, x, MT + ph, x, MT + ph + 18, i / 10.0);
  }
  int ny = (int)lround((hi - lo) / 0.05);
  int stepy = ny > 10 ? (ny + 9) / 10 : 1;
  for (int i = 0; i <= ny; i += stepy) {
    double v = lo + i * 0.05, yy = PY(v);
    bbuf_printf(&b,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                ML, yy, ML + pw, yy, ML - 6, yy + 4, v);
  }
  bbuf_printf(&b,
              "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
              "stroke=\"#333\"/>\n",
              ML, MT, pw, ph);
  bbuf_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", ML + pw / 2,
              H - 18,
              nlegs == 2 ? "α (weight of the first, lexical leg; 1 − α on the second)"
                         : "weight share of the first leg (best over the other weights)");
  bbuf_printf(&b,
              "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">",
              MT + ph / 2);
  esc(&b, metric);
  bbuf_printf(&b, "</text>\n");
  /* series */
  int ly = MT + 8;
  for (int s = 0; s < NS; s++) {
    int any = 0;
    for (int x = 0; x < NX; x++) any |= !isnan(y[s][x]);
    if (!any) continue;
    bbuf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                colours[s], s == NS - 1 ? " stroke-dasharray=\"6 4\"" : "");
    for (int x = 0; x < NX; x++)
      if (!isnan(y[s][x])) bbuf_printf(&b, "%.1f,%.1f ", PX(x / (double)(NX - 1)), PY(y[s][x]));
    bbuf_printf(&b, "\"/>\n");
    for (int x = 0; x < NX; x++)
      if (!isnan(y[s][x]))
        bbuf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                    PX(x / (double)(NX - 1)), PY(y[s][x]), colours[s]);
    bbuf_printf(&b,
                "<line x1=\"%.0f\" y1=\"%d\" x2=\"%.0f\" y2=\"%d\" stroke=\"%s\" "
                "stroke-width=\"2\"%s/>\n<text x=\"%.0f\" y=\"%d\">%s</text>\n",
                ML + pw + 14, ly, ML + pw + 40, ly, colours[s],
                s == NS - 1 ? " stroke-dasharray=\"6 4\"" : "", ML + pw + 46, ly + 4,
                s == NS - 1 ? "rrf (k=60)" : blend_norm_name(s));
    ly += 20;
  }
  bbuf_printf(&b, "</svg>\n");
  int rc = b.data ? file_write_atomic(path, b.data, b.len, err)
                  : blend_seterr(err, BLEND_ENOMEM, "plot: out of memory");
  bbuf_free(&b);
  return rc;
}
