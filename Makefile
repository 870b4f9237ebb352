# blend — build, test, demo and benchmark entry points.
#
#   make            release build: build/release/{libblend.a,blend}
#   make demo       install missing packages, build, index a bundled sample, search it
#   make check      install, build (release + ASan/UBSan), run every test and short fuzz runs
#   make bench      side-by-side benchmarks against peers (writes bench/RESULTS.md tables)
#
# Every src/<module>/*.c goes into libblend except src/cli (the blend binary).
# Every tests/test_*.c becomes one test program linked with tests/harness.c.

CC      ?= cc
# Baseline ISA of the whole build. SIMD kernels (encoder, vectors) are compiled
# for AVX2 / AVX-512 with target pragmas and chosen at run time from cpuid, so
# one build runs on any x86-64-v2 CPU and uses what it finds (`blend doctor`).
# Measured: the lexical engine is as fast at v2 as at -march=native (bench/RESULTS.md).
ARCH    ?= -march=x86-64-v2
MODE    ?= release
BUILD   ?= build/$(MODE)

WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-format-truncation
DEFS    := -D_GNU_SOURCE
INCS    := -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-serial
# OpenBLAS: the single-threaded build (the encoder runs its own threads), so
# no BLAS thread pool starts, and spins, in every blend process.
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-serial
LIBS    := -lutf8proc -lstemmer -lzstd -lcjson -lstreamvbyte \
           -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lcurl -lmicrohttpd -lm -lpthread

ifeq ($(MODE),asan)
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN := -fsanitize=address,undefined
else ifeq ($(MODE),debug)
  OPT := -O0 -g
else
  OPT := -O2 -g
endif

CFLAGS_ALL := $(WARN) $(DEFS) $(INCS) $(OPT) $(ARCH) -MMD -MP $(CFLAGS)
LDFLAGS_ALL := $(LDSAN) $(LDFLAGS)

LIB_SRC  := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HARNESS  := $(BUILD)/obj/tests/harness.o

.PHONY: all lib cli tests deps demo check test bench fuzz clean
all: $(BUILD)/blend

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libblend.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/blend: $(CLI_OBJ) $(BUILD)/libblend.a
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libblend.a $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(HARNESS) $(BUILD)/libblend.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(HARNESS) $(BUILD)/libblend.a $(LIBS)

$(BUILD)/bench_%: bench/bench_%.c $(BUILD)/libblend.a
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libblend.a $(LIBS)

tests: $(TEST_BIN) $(BUILD)/blend

deps:
	@scripts/install-deps.sh

demo: deps
	@$(MAKE) -j$(NPROC) --no-print-directory MODE=release
	@scripts/demo.sh build/release/blend

# The test runner prints one summary line "N passed, N failed[, N skipped]".
NPROC := $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) -j$(NPROC) --no-print-directory MODE=release tests
	@$(MAKE) -j$(NPROC) --no-print-directory MODE=asan tests
	@$(MAKE) -j$(NPROC) --no-print-directory fuzz-build
	@scripts/run-tests.sh

test: tests
	@scripts/run-tests.sh

FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_CFLAGS := $(WARN) -Wno-unknown-warning-option $(DEFS) $(INCS) -O1 -g $(ARCH) \
               -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/libblend.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^
build/fuzz/%: fuzz/%.c build/fuzz/libblend.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libblend.a $(LIBS)
fuzz-build: $(FUZZ_BIN)

bench:
	@BLEND_BENCH_DEPS=1 scripts/install-deps.sh
	@$(MAKE) --no-print-directory MODE=release
	@bench/run.sh
	@bench/encoder.sh
	@bench/bench_ann.sh
	@bench/hybrid.sh
	@bench/live.sh
	@bench/serve.sh
	@bench/index_encode.sh

clean:
	rm -rf build

-include $(FUZZ_OBJ:.o=.d) $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_SRC:tests/%.c=$(BUILD)/obj/tests/%.d)

# The web page is embedded by .incbin (src/server/page.c): rebuild on edits.
$(BUILD)/obj/src/server/page.o build/fuzz/obj/src/server/page.o: src/server/page.html
