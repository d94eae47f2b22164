#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/sendfile.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
static void *thr(void *a) { int fd = open("data", O_RDONLY); char b[4096]; pread(fd, b, 4096, 8192); close(fd); return 0; }
int main(void) {
  char buf[65536]; memset(buf, 'x', sizeof buf);
  int fd = open("data", O_RDWR|O_CREAT|O_TRUNC|O_CLOEXEC, 0644);
  write(fd, buf, 65536);
  pwrite(fd, buf, 4096, 65536);
  lseek(fd, 0, SEEK_SET);
  read(fd, buf, 1000);
  struct iovec iov[2] = {{buf, 4096}, {buf+4096, 8192}};
  readv(fd, iov, 2);
  preadv2(fd, iov, 2, 4096, RWF_HIPRI);
  pwritev2(fd, iov, 2, -1, 0);
  writev(fd, iov, 2);
  fsync(fd); fdatasync(fd);
  sync_file_range(fd, 0, 4096, SYNC_FILE_RANGE_WRITE|SYNC_FILE_RANGE_WAIT_AFTER);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  readahead(fd, 0, 65536);
  fallocate(fd, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, 0, 4096);
  fallocate(fd, 0, 0, 200000);
  ftruncate(fd, 131072);
  int d = dup(fd); int d2 = dup2(fd, 10); int d3 = dup3(fd, 11, O_CLOEXEC); int d4 = fcntl(fd, F_DUPFD_CLOEXEC, 20);
  read(d, buf, 10);
  close(d); close(d2); close(d3); close(d4);
  char *m = mmap(NULL, 65536, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0);
  madvise(m, 65536, MADV_WILLNEED);
  madvise(m + 4096, 8192, MADV_DONTNEED);
  m[0] = 1;
  msync(m, 65536, MS_SYNC);
  munmap(m, 65536);
  int fd2 = open("copy dst <x>", O_WRONLY|O_CREAT|O_TRUNC, 0644);
  int fa = open("log", O_WRONLY|O_CREAT|O_APPEND, 0644); write(fa, buf, 100); write(fa, buf, 50); close(fa);
  off_t o = 100;
  sendfile(fd2, fd, &o, 4096);
  sendfile(fd2, fd, NULL, 4096);
  loff_t oi = 0;
  copy_file_range(fd, &oi, fd2, NULL, 4096, 0);
  int p[2]; pipe(p);
  write(p[1], "abc", 3);
  splice(p[0], NULL, fd2, NULL, 3, 0);
  read(p[0], buf, 0);
  int dfd = open("dio", O_RDWR|O_CREAT|O_DIRECT|O_SYNC|O_NOATIME, 0600);
  void *al; posix_memalign(&al, 4096, 4096); memset(al, 1, 4096);
  pwrite(dfd, al, 4096, 0);
  close(dfd);
  read(99, buf, 10);
  pid_t c = fork();
  if (c == 0) { read(fd, buf, 100); _exit(0); }
  waitpid(c, 0, 0);
  pthread_t t; pthread_create(&t, 0, thr, 0); pthread_join(t, 0);
  rename("dio", "dio2"); unlink("dio2");
  read(fd, buf, 100);
  close(fd); close(fd2);
  execlp("true", "true", NULL);
  return 0;
}
