/*
** peer_xapian.cc — Xapian side of the lexical bench.
**
**   peer_xapian index DATASET_DIR DB_DIR
**   peer_xapian query DATASET_DIR DB_DIR [PASSES] [RUN_FILE]
**
** Index: TermGenerator (Snowball "english" = Porter2 by default, override
** with BENCH_XAPIAN_STEMMER=porter; STEM_SOME, or STEM_ALL with
** BENCH_XAPIAN_STEM=all; positions), the same 33
** Lucene English stopwords blend removes (SimpleStopper, STOP_ALL), title
** then text with a position gap, document data = id, title and text (all
** three engines store the text), value slot 0 = id; one commit.
** Query: QueryParser (default flags, default OR, STEM_SOME, same stopper),
** Enquire with BM25Weight(k1=0.9, k2=0, k3=1, b=0.4, min_normlen=0),
** get_mset(0, 10), ids read from value slot 0. Prints one JSON line.
*/
#include <xapian.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common.h"

static const char *stemmer_name() {
  const char *s = getenv("BENCH_XAPIAN_STEMMER");
  return s && *s ? s : "english";
}

static void make_stopper(Xapian::SimpleStopper &st) {
  for (size_t i = 0; bench_lucene_stopwords[i]; i++) st.add(bench_lucene_stopwords[i]);
}

/* BENCH_XAPIAN_STEM=all: index and query stemmed terms only (STEM_ALL), the
** same term set blend indexes; default STEM_SOME also indexes every
** unstemmed word and leaves capitalised query words unstemmed. */
static bool stem_all() {
  const char *s = getenv("BENCH_XAPIAN_STEM");
  return s && strcmp(s, "all") == 0;
}

static const char *engine_name() { return stem_all() ? "xapian-stemall" : "xapian"; }

static std::string version() { return std::string("Xapian ") + Xapian::version_string(); }

static std::string notes(const char *what) {
  return std::string(what) + ", stemmer " + stemmer_name() +
         ", Lucene stopwords (33) STOP_ALL, " +
         (stem_all() ? "STEM_ALL" : "STEM_SOME");
}

struct IndexCtx {
  Xapian::WritableDatabase *db;
  Xapian::TermGenerator *tg;
  std::string data;
};

static int add_doc(void *vctx, const bench_doc *d) {
  IndexCtx *c = static_cast<IndexCtx *>(vctx);
  Xapian::Document doc;
  c->tg->set_document(doc);
  c->tg->index_text(std::string(d->title, d->title_len));
  c->tg->increase_termpos();
  c->tg->index_text(std::string(d->text, d->text_len));
  c->data.assign(d->id, d->id_len);
  c->data.push_back('\n');
  c->data.append(d->title, d->title_len);
  c->data.push_back('\n');
  c->data.append(d->text, d->text_len);
  doc.set_data(c->data);
  doc.add_value(0, std::string(d->id, d->id_len));
  c->db->add_document(doc);
  return 0;
}

static int do_index(const char *dataset, const char *dbdir) {
  char corpus[4096];
  snprintf(corpus, sizeof corpus, "%s/corpus.jsonl", dataset);
  bench_rm_rf(dbdir);
  double parse_s = bench_parse_only_seconds(corpus);
  if (parse_s < 0) return 1;
  uint64_t docs = 0;
  double secs, cpu;
  try {
    double t0 = bench_now(), c0 = bench_cpu_seconds();
    Xapian::WritableDatabase db(dbdir, Xapian::DB_CREATE_OR_OVERWRITE);
    Xapian::TermGenerator tg;
    tg.set_stemmer(Xapian::Stem(stemmer_name()));
    tg.set_stemming_strategy(stem_all() ? Xapian::TermGenerator::STEM_ALL
                                        : Xapian::TermGenerator::STEM_SOME);
    Xapian::SimpleStopper stopper;
    make_stopper(stopper);
    tg.set_stopper(&stopper);
    tg.set_stopper_strategy(Xapian::TermGenerator::STOP_ALL);
    IndexCtx c{&db, &tg, std::string()};
    if (bench_corpus_foreach(corpus, add_doc, &c, &docs) != 0) return 1;
    db.commit();
    db.close();
    secs = bench_now() - t0;
    cpu = bench_cpu_seconds() - c0;
  } catch (const Xapian::Error &e) {
    fprintf(stderr, "peer_xapian: %s: %s\n", dbdir, e.get_description().c_str());
    return 1;
  }
  bench_print_index(engine_name(), version().c_str(), bench_basename(dataset), docs,
                    bench_file_bytes(corpus), parse_s, secs, cpu, bench_path_bytes(dbdir),
                    notes("glass backend, positions, data=id+title+text, 1 commit").c_str());
  return 0;
}

struct QueryCtx {
  Xapian::Database *db;
  Xapian::QueryParser *qp;
  Xapian::Enquire *enq;
  size_t fallbacks;
};

static int search(void *vctx, const char *query, bench_hits *out) {
  QueryCtx *c = static_cast<QueryCtx *>(vctx);
  try {
    Xapian::Query q;
    try {
      q = c->qp->parse_query(query);
    } catch (const Xapian::QueryParserError &) {
      /* e.g. a stray quote or bracket: parse as plain words, as an app would */
      c->fallbacks++;
      q = c->qp->parse_query(query, 0);
    }
    c->enq->set_query(q);
    Xapian::MSet m = c->enq->get_mset(0, BENCH_K);
    for (Xapian::MSetIterator it = m.begin(); it != m.end(); ++it) {
      std::string id = it.get_document().get_value(0);
      bench_hits_put(out, id.data(), id.size(), it.get_weight());
    }
  } catch (const Xapian::Error &e) {
    fprintf(stderr, "peer_xapian: query \"%s\": %s\n", query, e.get_description().c_str());
    return 1;
  }
  return 0;
}

static int do_query(const char *dataset, const char *dbdir, int passes, const char *run) {
  bench_queries qs;
  if (bench_queries_load(dataset, &qs) != 0) return 1;
  bench_query_report r;
  try {
    Xapian::Database db(dbdir);
    Xapian::Stem stem(stemmer_name());
    Xapian::SimpleStopper stopper;
    make_stopper(stopper);
    Xapian::QueryParser qp;
    qp.set_database(db);
    qp.set_stemmer(stem);
    qp.set_stemming_strategy(stem_all() ? Xapian::QueryParser::STEM_ALL
                                        : Xapian::QueryParser::STEM_SOME);
    qp.set_stopper(&stopper);
    qp.set_default_op(Xapian::Query::OP_OR);
    Xapian::Enquire enq(db);
    enq.set_weighting_scheme(Xapian::BM25Weight(0.9, 0, 1, 0.4, 0));
    QueryCtx c{&db, &qp, &enq, 0};
    if (bench_run_queries(&qs, passes, search, &c, run, engine_name(), &r) != 0) return 1;
    if (c.fallbacks)
      fprintf(stderr, "peer_xapian: %zu query parses fell back to plain words\n",
              c.fallbacks / (size_t)(passes + 1));
  } catch (const Xapian::Error &e) {
    fprintf(stderr, "peer_xapian: %s: %s\n", dbdir, e.get_description().c_str());
    return 1;
  }
  bench_print_query(engine_name(), version().c_str(), bench_basename(dataset), &r,
                    notes("QueryParser OR, BM25Weight(0.9,0,1,0.4,min_normlen=0), get_mset(0,10)").c_str());
  bench_queries_free(&qs);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "index") == 0) return do_index(argv[2], argv[3]);
  if (argc >= 4 && strcmp(argv[1], "query") == 0)
    return do_query(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 10, argc > 5 ? argv[5] : NULL);
  fprintf(stderr, "usage: peer_xapian index DATASET_DIR DB_DIR\n"
                  "       peer_xapian query DATASET_DIR DB_DIR [PASSES] [RUN_FILE]\n");
  return 2;
}
