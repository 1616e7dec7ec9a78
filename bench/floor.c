/*
 * The floor for a mount+unmount cycle: exactly the system calls a loop
 * mount needs and nothing else (no parsing, no checks, no retries).
 *
 *   floor mount IMAGE MOUNTPOINT FSTYPE [dio]
 *       LOOP_CTL_GET_FREE, open /dev/loopN, LOOP_CONFIGURE (autoclear;
 *       with "dio" also LO_FLAGS_DIRECT_IO, the kernel picking the block
 *       size), mount(2); the mount keeps the device, autoclear frees it
 *       later.
 *   floor umount MOUNTPOINT
 *       umount2(2).
 */
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct loop_config cfg;
	char dev[32];
	int ctl, img, loop, n;

	if (argc == 3 && strcmp(argv[1], "umount") == 0) {
		if (umount2(argv[2], 0) < 0)
			return perror("umount2"), 1;
		return 0;
	}
	if ((argc != 5 && argc != 6) || strcmp(argv[1], "mount") != 0)
		return 2;
	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0 ||
	    (n = ioctl(ctl, LOOP_CTL_GET_FREE)) < 0)
		return perror("loop-control"), 1;
	snprintf(dev, sizeof(dev), "/dev/loop%d", n);
	if ((img = open(argv[2], O_RDWR | O_CLOEXEC)) < 0 ||
	    (loop = open(dev, O_RDWR | O_CLOEXEC)) < 0)
		return perror("open"), 1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = img;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (argc == 6 && strcmp(argv[5], "dio") == 0)
		cfg.info.lo_flags |= LO_FLAGS_DIRECT_IO;
	if (ioctl(loop, LOOP_CONFIGURE, &cfg) < 0)
		return perror("LOOP_CONFIGURE"), 1;
	if (mount(dev, argv[3], argv[4], 0, "") < 0)
		return perror("mount"), 1;
	return 0;
}
