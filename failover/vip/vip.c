#include "failover/vip/vip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Runs `ip ARGS...`, keeping the first line it printed on stderr for the caller. */
static int vip_ip(char *const argv[], char *err, size_t errlen)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, "ip", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		snprintf(err, errlen, "cannot run ip: %s", strerror(rc));
		return -rc;
	}
	ssize_t n = read(pipefd[0], err, errlen - 1);
	close(pipefd[0]);
	err[n > 0 ? n : 0] = '\0';
	err[strcspn(err, "\n")] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int vip_addr_cmd(const struct vip *v, const char *verb, char *err, size_t errlen)
{
	char cidr[80];
	snprintf(cidr, sizeof(cidr), "%s/%u", v->addr, v->prefix);
	char *argv[] = {"ip", "addr", (char *)verb, cidr, "dev", (char *)v->iface, NULL};
	return vip_ip(argv, err, errlen);
}

int vip_add(const struct vip *v, char *err, size_t errlen)
{
	if (vip_present(v))
		return 0; /* already ours: a restart after a crash, say */
	return vip_addr_cmd(v, "add", err, errlen);
}

int vip_del(const struct vip *v, char *err, size_t errlen)
{
	if (!vip_present(v))
		return 0;
	return vip_addr_cmd(v, "del", err, errlen);
}

static bool vip_sockaddr_eq(const struct sockaddr *sa, const struct vip *v)
{
	char buf[INET6_ADDRSTRLEN];
	const void *a = sa->sa_family == AF_INET
			    ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
			    : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	return inet_ntop(sa->sa_family, a, buf, sizeof(buf)) && !strcmp(buf, v->addr);
}

bool vip_present(const struct vip *v)
{
	struct ifaddrs *ifa, *i;
	bool found = false;
	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next)
		if (i->ifa_addr &&
		    (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
			found = vip_sockaddr_eq(i->ifa_addr, v);
	freeifaddrs(ifa);
	return found;
}

/* An ARP announcement: a request whose sender and target address are both ours. */
struct arp_packet {
	struct arphdr hdr;
	uint8_t sha[ETH_ALEN];
	uint8_t spa[4];
	uint8_t tha[ETH_ALEN];
	uint8_t tpa[4];
} __attribute__((packed));

static int vip_hwaddr(int fd, const char *iface, uint8_t mac[ETH_ALEN], int *ifindex)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (strlen(iface) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	memcpy(ifr.ifr_name, iface, strlen(iface) + 1);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		return -errno;
	*ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	return 0;
}

int vip_announce(const struct vip *v, unsigned count)
{
	struct in_addr ip;
	if (inet_pton(AF_INET, v->addr, &ip) != 1)
		return 0;
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return -errno;
	struct arp_packet p = {
	    .hdr = {htons(ARPHRD_ETHER), htons(ETH_P_IP), ETH_ALEN, 4, htons(ARPOP_REQUEST)}};
	struct sockaddr_ll to = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_halen = ETH_ALEN};
	int rc = vip_hwaddr(fd, v->iface, p.sha, &to.sll_ifindex);
	memcpy(p.spa, &ip, 4);
	memcpy(p.tpa, &ip, 4);
	memset(to.sll_addr, 0xff, ETH_ALEN);
	for (unsigned i = 0; i < count && rc == 0; i++) {
		if (sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			rc = -errno;
		struct timespec gap = {0, 100 * 1000 * 1000};
		if (i + 1 < count)
			nanosleep(&gap, NULL);
	}
	close(fd);
	return rc;
}
