/*
 * addrpolicy.c - the address policy (see addrpolicy.h).
 */
#include "addrpolicy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

struct v4_range {
	uint32_t net;
	int bits;
	const char *why;
};

/* Checked in order; the first match gives the reason. */
static const struct v4_range v4_blocked[] = {
	{0xA9FEA9FE, 32, "cloud metadata address"},    /* 169.254.169.254 */
	{0x646464C8, 32, "cloud metadata address"},    /* 100.100.100.200 */
	{0x00000000, 8, "unspecified address"},        /* 0.0.0.0/8 */
	{0x0A000000, 8, "private address"},            /* 10/8 */
	{0x64400000, 10, "carrier-grade NAT address"}, /* 100.64/10 */
	{0x7F000000, 8, "loopback address"},           /* 127/8 */
	{0xA9FE0000, 16, "link-local address"},        /* 169.254/16 */
	{0xAC100000, 12, "private address"},           /* 172.16/12 */
	{0xC0000000, 24, "reserved address"},          /* 192.0.0/24 */
	{0xC0000200, 24, "documentation address"},     /* 192.0.2/24 */
	{0xC0A80000, 16, "private address"},           /* 192.168/16 */
	{0xC6120000, 15, "benchmarking address"},      /* 198.18/15 */
	{0xC6336400, 24, "documentation address"},     /* 198.51.100/24 */
	{0xCB007100, 24, "documentation address"},     /* 203.0.113/24 */
	{0xE0000000, 4, "multicast address"},          /* 224/4 */
	{0xF0000000, 4, "reserved address"},           /* 240/4 incl. broadcast */
};

static const char *check_v4(uint32_t a)
{
	size_t i;

	for (i = 0; i < sizeof(v4_blocked) / sizeof(v4_blocked[0]); i++) {
		uint32_t mask = v4_blocked[i].bits ? 0xFFFFFFFFu << (32 - v4_blocked[i].bits) : 0;
		if ((a & mask) == v4_blocked[i].net)
			return v4_blocked[i].why;
	}
	return NULL;
}

static uint32_t v4_at(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static const char *check_v6(const uint8_t *b)
{
	static const uint8_t zero[16];
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	/* ::ffff:0:0:0/96, the SIIT "IPv4-translated" form (RFC 2765). */
	static const uint8_t translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1}; /* 64:ff9b:1::/48 */
	/* fd00:ec2::254, the AWS instance metadata service over IPv6. */
	static const uint8_t ec2_metadata[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0,    0,
						 0,    0, 0,    0,    0, 0, 0x02, 0x54};
	static const uint8_t discard[8] = {0x01, 0, 0, 0, 0, 0, 0, 0}; /* 100::/64 */

	if (!memcmp(b, zero, 15) && b[15] <= 1)
		return b[15] ? "loopback address" : "unspecified address";
	if (!memcmp(b, ec2_metadata, 16))
		return "cloud metadata address";
	/* Addresses that carry an IPv4 address get the IPv4 policy. */
	if (!memcmp(b, mapped, 12) || !memcmp(b, translated, 12) || !memcmp(b, nat64, 12))
		return check_v4(v4_at(b + 12));
	/* Local-use NAT64 (RFC 8215) translates into the site's own network,
	 * where the embedded address sits at a prefix-dependent place. */
	if (!memcmp(b, nat64_local, 6))
		return "local-use NAT64 address";
	if (!memcmp(b, zero, 12))
		return "IPv4-compatible address"; /* ::/96, deprecated */
	if (!memcmp(b, discard, 8))
		return "discard-only address";
	if (b[0] == 0x20 && b[1] == 0x02)
		return check_v4(v4_at(b + 2)); /* 6to4 */
	if ((b[0] & 0xfe) == 0xfc)
		return "private address"; /* fc00::/7 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "link-local address"; /* fe80::/10 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return "site-local address"; /* fec0::/10 */
	if (b[0] == 0xff)
		return "multicast address";
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return "documentation address"; /* 2001:db8::/32 */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0x02 && b[4] == 0 && b[5] == 0)
		return "benchmarking address"; /* 2001:2::/48 */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
		return "Teredo address"; /* 2001::/32 */
	return NULL;
}

const char *addr_policy_refusal(const struct sockaddr *sa)
{
	if (!sa)
		return "no address";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return check_v4(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		return check_v6(in6->sin6_addr.s6_addr);
	}
	return "not an internet address";
}

const char *addr_policy_refusal_str(const char *ip)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, ip, &a4) == 1)
		return check_v4(ntohl(a4.s_addr));
	if (inet_pton(AF_INET6, ip, &a6) == 1)
		return check_v6(a6.s6_addr);
	return "not a numeric address";
}
