# lifeline — top-level entry points. `make test` and `make demo` are the README's quick start.
BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja

.PHONY: all deps build test test-unit test-san fuzz demo bench clean format

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Every test: the regular build, then the sanitizer build of the tests, then a short fuzz pass.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600
	$(MAKE) test-san
	$(MAKE) fuzz

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# One clang build serves both the sanitizer run and the fuzzers: ASan + UBSan everywhere,
# libFuzzer coverage on every library, asserts on. -O0: on 2 cores the build takes about
# 7.5 min instead of 12.5 at -O1; the unit tests take 65 s instead of 44 (the store model
# test runs one round of four here).
$(BUILD_SAN)/build.ninja:
	CXX=clang++ cmake -S . -B $(BUILD_SAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DLIFELINE_FUZZ=ON -DLIFELINE_BENCH=OFF

# ASan + UBSan over the unit tests (the integration suites run in the regular build).
test-san: deps $(BUILD_SAN)/build.ninja
	cmake --build $(BUILD_SAN) -j $(JOBS) --target unit_tests fuzzers
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L unit --timeout 900

# Builds every libFuzzer target and runs each for a bounded time from its seed corpus.
FUZZ_SECONDS ?= 10
fuzz: deps $(BUILD_SAN)/build.ninja
	cmake --build $(BUILD_SAN) -j $(JOBS) --target fuzzers
	scripts/run-fuzzers $(BUILD_SAN) $(FUZZ_SECONDS)

demo: build
	scripts/demo $(BUILD)/src/cli/lifeline

bench: build
	bench/run-all $(BUILD)

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h')

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
