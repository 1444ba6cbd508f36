/* replay_main.c - feeds every seed file of a directory, in name order, to a fuzz target. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Dot files (editor and VCS leftovers) are not seeds. */
static int is_seed_name(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Byte order, whatever the locale: the same sequence on every machine. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Feed one file to the target.  Returns 1 if replayed, 0 if not a regular
 * file, -1 on error.  The input is a heap block of exactly its size, so
 * ASan reports any read past it. */
static int replay(int dfd, const char *dir, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s/%s: %s\n", dir, name, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "%s/%s: %s\n", dir, name, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *data = malloc(size ? size : 1);
	if (!data) {
		fprintf(stderr, "%s/%s: out of memory\n", dir, name);
		close(fd);
		return -1;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s/%s: %s\n", dir, name,
				n < 0 ? strerror(errno) : "file shrank while reading");
			free(data);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SEED-DIRECTORY\n", argv[0]);
		return 1;
	}
	const char *dir = argv[1];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 1;
	}
	struct dirent **names;
	int n = scandir(dir, &names, is_seed_name, by_name);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		close(dfd);
		return 1;
	}
	int replayed = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		int rc = replay(dfd, dir, names[i]->d_name);
		if (rc < 0)
			failed = 1;
		else
			replayed += rc;
		free(names[i]);
	}
	free(names);
	close(dfd);
	printf("replayed %d files from %s\n", replayed, dir);
	if (failed)
		return 1;
	if (replayed == 0) {
		fprintf(stderr, "%s: no seed files\n", dir);
		return 1;
	}
	return 0;
}
