#!/bin/sh
# mkdisk.sh LOADER_BIN GUEST_ELF OUT: the firmware-boot test disk (loader.S says the layout):
# the loader's 8 sectors, guest.elf from LBA 8 with its length in sectors at 0x1b0, padded to 1 MiB.
set -eu
loader=$1 elf=$2 out=$3
[ "$(stat -c %s "$loader")" = 4096 ] || { echo "mkdisk: $loader is not 8 sectors" >&2; exit 1; }
size=$(stat -c %s "$elf")
sectors=$(( (size + 511) / 512 ))
[ "$sectors" -le 896 ] || { echo "mkdisk: $elf is larger than the loader's 448 KiB buffer" >&2; exit 1; }
cp "$loader" "$out.tmp"
printf "$(printf '\\%03o\\%03o' $((sectors & 255)) $((sectors >> 8)))" |
  dd of="$out.tmp" bs=1 seek=432 conv=notrunc status=none
dd if="$elf" of="$out.tmp" bs=512 seek=8 conv=notrunc status=none
truncate -s 1M "$out.tmp"
mv "$out.tmp" "$out"
