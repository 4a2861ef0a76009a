# The Cortex-M4 target: the MPS2+ board with the AN386 FPGA image, as QEMU's mps2-an386 models it
# (docs/firmware.md, "The Cortex-M target"). Included by ../../Makefile; every output goes under
# $(BUILD), nothing into the source folder.
#
#   make mps2-an386          build/mps2_an386/kei_bms.elf: the firmware, hard float (-mfloat-abi=hard),
#                            and kei_bms.bin, the flash image a board's loader takes
#   make mps2-an386-soft     build/mps2_an386-soft/kei_bms.elf: the same with soft float, to compare
#   make mps2-an386-tests    build/mps2_an386/tests/*.elf: the C tests, semihosted, for QEMU
#   make mps2-an386-soft-tests  the same, soft float
#   make mps2-an386-check    run the C tests of both under qemu-system-arm (semihosting)
#   make mps2-an386-profile  build/mps2_an386{,-soft}/profile.elf: where a step's instructions go
#                            (semihosted; run under QEMU -icount shift=0, bench/firmware_target.py)
#   make mps2-an386-size     flash and RAM of both images by section
#
# Needs arm-none-eabi-gcc and newlib (Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi).

ARM_OBJCOPY ?= arm-none-eabi-objcopy
MPS2_PORT := port/mps2_an386
MPS2_HARD := $(BUILD)/mps2_an386
MPS2_SOFT := $(BUILD)/mps2_an386-soft
MPS2_HARD_FLAGS := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
MPS2_SOFT_FLAGS := -mcpu=cortex-m4 -mthumb -mfloat-abi=soft
MPS2_OPT ?= -O2
# the core's objects are the same in the firmware and in the test images: what is tested is what ships
MPS2_CFLAGS = $(WARN) $(MPS2_OPT) $(VARIANT_FLAGS) -g -ffunction-sections -fdata-sections -Iinclude -I$(MPS2_PORT) -MMD -MP
MPS2_LDFLAGS = -nostartfiles -T $(MPS2_PORT)/linker.ld -Wl,--gc-sections
MPS2_PORT_OBJ := startup uart timebase console main
# the semihosted tests need newlib's stdio: a heap and a deeper stack than the firmware's 4 KiB
MPS2_TEST_LDFLAGS = -Wl,--defsym=__stack_size=0x10000 -Wl,--defsym=__heap_size=0x40000 --specs=rdimon.specs

.PHONY: mps2-an386 mps2-an386-soft mps2-an386-tests mps2-an386-soft-tests mps2-an386-check mps2-an386-profile \
	mps2-an386-size

# $(1) output folder, $(2) floating-point flags
define MPS2_VARIANT
$(1)/core/%.o: src/%.c
	@mkdir -p $$(@D)
	$$(ARM_CC) $$(MPS2_CFLAGS) $(2) -c $$< -o $$@

$(1)/port/main.o: $(MPS2_PORT)/main.c $$(BUILD)/gen/pack_config.h
	@mkdir -p $$(@D)
	$$(ARM_CC) $$(MPS2_CFLAGS) $(2) -I$$(BUILD)/gen '-DKEI_PACK_CONFIG_HEADER="pack_config.h"' -c $$< -o $$@

$(1)/port/profile.o: $(MPS2_PORT)/profile.c $$(BUILD)/gen/pack_config.h
	@mkdir -p $$(@D)
	$$(ARM_CC) $$(MPS2_CFLAGS) $(2) -I$$(BUILD)/gen '-DKEI_PACK_CONFIG_HEADER="pack_config.h"' -c $$< -o $$@

$(1)/port/%.o: $(MPS2_PORT)/%.c
	@mkdir -p $$(@D)
	$$(ARM_CC) $$(MPS2_CFLAGS) $(2) -c $$< -o $$@

$(1)/tests/%.o: tests/%.c tests/kei_test.h
	@mkdir -p $$(@D)
	$$(ARM_CC) $$(MPS2_CFLAGS) $(2) -Itests -c $$< -o $$@

$(1)/kei_bms.elf: $(MPS2_PORT_OBJ:%=$(1)/port/%.o) $(CORE:%=$(1)/core/%.o) $(MPS2_PORT)/linker.ld
	$$(ARM_CC) $(2) $$(MPS2_LDFLAGS) --specs=nano.specs -Wl,-Map=$$(@:.elf=.map) \
		$$(filter %.o,$$^) -lm -o $$@

# objects reached only through pattern rules would be deleted as intermediates: keep them
.PRECIOUS: $(1)/core/%.o $(1)/port/%.o $(1)/tests/%.o

$(1)/kei_bms.bin: $(1)/kei_bms.elf
	$$(ARM_OBJCOPY) -O binary $$< $$@

$(1)/tests/%.elf: $(1)/tests/%.o $(1)/port/startup.o $(1)/port/semihost.o $(CORE:%=$(1)/core/%.o) $(MPS2_PORT)/linker.ld
	$$(ARM_CC) $(2) $$(MPS2_LDFLAGS) $$(MPS2_TEST_LDFLAGS) $$(filter %.o,$$^) -lm -o $$@

$(1)/profile.elf: $(1)/port/profile.o $(1)/port/timebase.o $(1)/port/startup.o $(1)/port/semihost.o \
		$(CORE:%=$(1)/core/%.o) $(MPS2_PORT)/linker.ld
	$$(ARM_CC) $(2) $$(MPS2_LDFLAGS) $$(MPS2_TEST_LDFLAGS) $$(filter %.o,$$^) -lm -o $$@
endef

$(eval $(call MPS2_VARIANT,$(MPS2_HARD),$(MPS2_HARD_FLAGS)))
$(eval $(call MPS2_VARIANT,$(MPS2_SOFT),$(MPS2_SOFT_FLAGS)))

mps2-an386: $(MPS2_HARD)/kei_bms.elf $(MPS2_HARD)/kei_bms.bin
mps2-an386-soft: $(MPS2_SOFT)/kei_bms.elf $(MPS2_SOFT)/kei_bms.bin
mps2-an386-tests: $(TESTS:%=$(MPS2_HARD)/tests/%.elf)
mps2-an386-soft-tests: $(TESTS:%=$(MPS2_SOFT)/tests/%.elf)
mps2-an386-profile: $(MPS2_HARD)/profile.elf $(MPS2_SOFT)/profile.elf

QEMU_ARM ?= qemu-system-arm
MPS2_QEMU = $(QEMU_ARM) -machine mps2-an386 -nodefaults -display none -monitor none \
	-semihosting-config enable=on,target=native -kernel

mps2-an386-check: mps2-an386-tests mps2-an386-soft-tests
	@set -e; for d in $(MPS2_HARD) $(MPS2_SOFT); do for t in $(TESTS); do $(MPS2_QEMU) $$d/tests/$$t.elf; done; done

mps2-an386-size: $(MPS2_HARD)/kei_bms.elf $(MPS2_SOFT)/kei_bms.elf
	@for f in $^; do echo "== $$f"; arm-none-eabi-size -A $$f | grep -v '^\.debug\|^\.comment\|^\.ARM.attr'; done
