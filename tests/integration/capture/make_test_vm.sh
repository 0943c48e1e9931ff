#!/bin/sh
# Builds a tiny test VM into CACHE_DIR: a Debian cloud kernel (fetched with apt-get download
# and unpacked, never installed) and an initramfs of busybox-static whose /init loads the
# virtio block drivers, prints the first line of the 64 KiB block at 8 MiB of /dev/vda as
# `LIFELINE-VM-PREV: TEXT` (NUL bytes dropped: empty for a fresh disk), so a guest can show
# what an earlier guest left there; writes 4 MiB of pattern 0xA7 at 1 MiB (fsync), then that
# 64 KiB block filled with lines of the mark text, reads both back with O_DIRECT, prints
# LIFELINE-VM-OK or LIFELINE-VM-FAIL, and powers off. The mark text comes from the kernel
# command line (`lifeline.mark=TEXT`, letters, digits, '-', '_'), default LIFELINE-GUEST-BLOCK.
# Several tests may share CACHE_DIR at once: the build holds a lock and replaces the
# initramfs atomically. Usage: make_test_vm.sh CACHE_DIR
set -eu
cache=$1
mkdir -p "$cache"
cd "$cache"
exec 9>"$cache/.lock"
flock 9
if [ ! -f vmlinuz ] || [ ! -d modules ]; then
  command -v apt-get >/dev/null || { echo "apt-get is missing" >&2; exit 1; }
  pkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
  [ -n "$pkg" ] || { echo "cannot resolve linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
  rm -rf dl unpacked && mkdir dl
  (cd dl && apt-get download "$pkg")
  dpkg-deb -x dl/*.deb unpacked
  cp unpacked/boot/vmlinuz-* vmlinuz
  rm -rf modules && mkdir modules
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
    f=$(find unpacked/lib/modules -name "$m.ko*" | head -n1)
    [ -n "$f" ] || { echo "module $m not found in $pkg" >&2; exit 1; }
    case "$f" in
      *.ko.xz) xz -dc "$f" > "modules/$m.ko" ;;
      *.ko.zst) zstd -dc "$f" > "modules/$m.ko" ;;
      *) cp "$f" "modules/$m.ko" ;;
    esac
  done
  rm -rf dl unpacked
fi
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox-static is missing" >&2; exit 1; }
rm -rf root initramfs.gz.tmp && mkdir -p root/bin root/proc root/sys root/dev root/tmp root/lib/modules
cp "$busybox" root/bin/busybox
cp modules/*.ko root/lib/modules/
cat > root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
  insmod /lib/modules/$m.ko
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
ok=1
prev=$(dd if=/dev/vda bs=64k skip=128 count=1 iflag=direct 2>/dev/null | tr -d '\000' | head -n1)
echo "LIFELINE-VM-PREV: $prev"
mark=LIFELINE-GUEST-BLOCK
for arg in $(cat /proc/cmdline); do
  case "$arg" in lifeline.mark=*) mark=${arg#lifeline.mark=} ;; esac
done
echo "LIFELINE-VM-MARK: $mark"
dd if=/dev/zero bs=1M count=4 2>/dev/null | tr '\000' '\247' > /tmp/pat
dd if=/tmp/pat of=/dev/vda bs=1M seek=1 conv=fsync 2>/dev/null || ok=0
yes "$mark" | head -c 65536 > /tmp/mark
dd if=/tmp/mark of=/dev/vda bs=64k seek=128 conv=fsync 2>/dev/null || ok=0
dd if=/dev/vda of=/tmp/back bs=1M skip=1 count=4 iflag=direct 2>/dev/null || ok=0
cmp /tmp/pat /tmp/back >/dev/null 2>&1 || ok=0
dd if=/dev/vda of=/tmp/markback bs=64k skip=128 count=1 iflag=direct 2>/dev/null || ok=0
cmp /tmp/mark /tmp/markback >/dev/null 2>&1 || ok=0
if [ $ok = 1 ]; then echo LIFELINE-VM-OK; else echo LIFELINE-VM-FAIL; fi
poweroff -f
INIT
chmod +x root/init
(cd root && find . | cpio -o -H newc 2>/dev/null | gzip -1) > initramfs.gz.tmp
mv initramfs.gz.tmp initramfs.gz
echo "$cache/vmlinuz $cache/initramfs.gz"
