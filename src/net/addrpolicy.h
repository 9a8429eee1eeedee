/*
 * addrpolicy.h - which IP addresses quarry may connect to.
 *
 * A research agent fetches URLs that came from web pages and search
 * results, i.e. from strangers. Without a policy any page could make us
 * read http://169.254.169.254/ (cloud credentials) or an admin panel on
 * the user's LAN (SSRF). So by default only public unicast addresses are
 * allowed; private, loopback, link-local, CGNAT, multicast, reserved,
 * documentation and cloud-metadata ranges are refused, including IPv4
 * addresses embedded in IPv6 (mapped, translated, NAT64, 6to4: judged by
 * the IPv4 address they carry), local-use NAT64 (64:ff9b:1::/48) and the
 * IPv6 metadata address fd00:ec2::254. The check runs on the
 * resolved address of every connection (redirects included), so DNS
 * tricks do not get around it. Pure functions, thread-safe.
 */
#ifndef Q_ADDRPOLICY_H
#define Q_ADDRPOLICY_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * NULL if sa may be connected to; otherwise a short static reason such as
 * "loopback address" or "cloud metadata address".
 */
const char *addr_policy_refusal(const struct sockaddr *sa);

/* Same check on a numeric address string ("10.0.0.1", "::1"); returns
 * "not a numeric address" for anything else. */
const char *addr_policy_refusal_str(const char *ip);

#endif
