# gpurun — one Makefile. Sources are discovered: any src/**/*.c joins the
# binary, any tests/unit/**/*_test.c becomes a test program, so adding a
# module never means editing this file.
#
#   make            release build -> build/gpurun
#   make test       deps, build, unit + e2e tests (last line: N passed, N failed)
#   make check      the same suite under ASan + UBSan (build-check/)
#   make lint       include-direction rule, size report, clang-tidy
#   make fmt        clang-format in place
#   make bench      benchmarks -> docs/benchmarks.md
#   make fuzz       libFuzzer targets, 60 s each (clang)
#   make run        deps, build, start the server

MODE    ?= release
ifeq ($(MODE),check)
BUILD   ?= build-check
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=address,undefined
else
BUILD   ?= build
OPT     := -O2 -g
LDSAN   :=
endif

CC      ?= cc
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wvla
ifeq ($(CI),true)
WARN    += -Werror
endif
PKGS    := libuv libcjson sqlite3 libcurl openssl libpcre2-8 yaml-0.1 libarchive
CPPFLAGS += -Isrc -D_GNU_SOURCE -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS  += -std=c11 $(OPT) $(WARN) -pthread
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lwslay -lm -ldl -pthread
LDFLAGS += $(LDSAN)

# ISA variants are compiled with their own flags and chosen at run time (cpuid).
ISA_avx2   := -mavx2 -mfma -mf16c
ISA_avx512 := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
isa_flags = $(if $(findstring _avx512,$(1)),$(ISA_avx512),$(if $(findstring _avx2,$(1)),$(ISA_avx2),))

# SRC_DIRS / TEST_DIRS narrow a build to some modules (a helper working on one
# subsystem: make BUILD=build-http SRC_DIRS='src/base src/http' TEST_DIRS=tests/unit/http tests-build)
SRC_DIRS  ?= src
TEST_DIRS ?= tests/unit
SRCS     := $(shell find $(SRC_DIRS) -name '*.c' | sort)
MAIN_SRC := src/cli/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libgpurun.a
BIN      := $(BUILD)/gpurun

TEST_SRCS := $(shell find $(TEST_DIRS) -name '*_test.c' 2>/dev/null | sort)
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_SUPPORT := $(wildcard tests/unit/support/*.c)

.PHONY: all deps test tests-build unit e2e check lint fmt bench fuzz run clean
all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(call isa_flags,$<) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LDLIBS)

# CUDA kernels (docs/gpu.md). When nvcc is found (GPURUN_CUDA=0 turns this
# off) each src/engine/cuda/kern_*.cu becomes a fatbin (sm_80 and sm_90
# machine code + compute_90 PTX) that cuda_fatbin.c embeds with .incbin.
# The binary never links CUDA: the driver is dlopen'ed at run time, and a
# build without nvcc runs on the CPU ("built without CUDA kernels").
NVCC ?= $(firstword $(wildcard /usr/local/cuda/bin/nvcc) $(shell command -v nvcc 2>/dev/null))
GPURUN_CUDA ?= $(if $(NVCC),1,0)
ifeq ($(GPURUN_CUDA),1)
NVCC_FLAGS := -std=c++17 -O3 -Isrc -no-compress -gencode arch=compute_80,code=sm_80 \
              -gencode arch=compute_90,code=[sm_90,compute_90]
CUDA_SRCS  := $(wildcard src/engine/cuda/*.cu)
FATBINS    := $(patsubst src/engine/cuda/%.cu,$(BUILD)/cuda/%.fatbin,$(CUDA_SRCS))
$(BUILD)/cuda/%.fatbin: src/engine/cuda/%.cu $(wildcard src/engine/cuda/*.h src/engine/cuda/*.cuh)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -fatbin -o $@ $<
$(BUILD)/obj/src/engine/cuda_fatbin.o: $(FATBINS)
$(BUILD)/obj/src/engine/cuda_fatbin.o: CPPFLAGS += -DGPURUN_HAVE_CUDA_KERNELS \
	-DGPURUN_FATBIN_DIR='"$(abspath $(BUILD))/cuda"'
endif

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(TEST_SUPPORT)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_SUPPORT) $(LIB) -lcmocka $(LDLIBS)

deps:
	@scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory all tests-build
	@tests/run.sh $(BUILD)

tests-build: $(TEST_BINS)

unit: all tests-build
	@tests/run.sh $(BUILD) unit

e2e: all
	@tests/run.sh $(BUILD) e2e

check: deps
	@$(MAKE) --no-print-directory MODE=check all tests-build
	@TEST_TIMEOUT=$${TEST_TIMEOUT:-1200} ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh build-check

lint:
	@scripts/lint.sh

fmt:
	@clang-format -i $(SRCS) $(shell find src tests -name '*.h') $(TEST_SRCS)

bench: deps all
	@scripts/deps.sh --bench
	@bench/run.sh $(BUILD)

fuzz:
	@scripts/fuzz.sh $(or $(FUZZ_SECONDS),60)

run: deps all
	@scripts/run.sh $(BIN)

clean:
	rm -rf build build-check build-fuzz

# make image: the gpurun/ollama OCI image in $(BUILD)/image/oci (scripts/image.sh,
# umoci); IMAGE_PUSH=HOST:PORT/REPO:TAG also pushes it to that registry.
.PHONY: image
image: all
	@scripts/image.sh --bin $(BIN) --out $(BUILD)/image $(if $(IMAGE_PUSH),--push $(IMAGE_PUSH))

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_BINS:=.d)
