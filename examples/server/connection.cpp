#include "connection.hpp"

#include <charconv>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

namespace nibble::server {
namespace {

struct Endpoint {
    std::string address;
    int port = -1;
};

/// An address as cpp-httplib spells it in Request::remote_addr / local_addr.
bool endpoint_of(const sockaddr_storage& addr, socklen_t length, Endpoint& out) {
    if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) return false;  // a pipe of the parent, say
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), length, host, sizeof host, service, sizeof service,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return false;
    }
    out.address = host;
    const std::string_view digits(service);
    return std::from_chars(digits.data(), digits.data() + digits.size(), out.port).ec == std::errc{};
}

bool is_connection(int fd, const httplib::Request& req) {
    sockaddr_storage addr{};
    socklen_t length = sizeof addr;
    Endpoint peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0 || !endpoint_of(addr, length, peer)) return false;
    if (peer.port != req.remote_port || peer.address != req.remote_addr) return false;
    length = sizeof addr;
    Endpoint self;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0 || !endpoint_of(addr, length, self)) return false;
    return self.port == req.local_port && self.address == req.local_addr;
}

}  // namespace

ClientConnection::ClientConnection(const httplib::Request& req) {
    if (req.remote_port < 0 || req.local_port < 0) return;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        int fd = -1;
        if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
        if (is_connection(fd, req)) {
            fd_ = fd;
            return;
        }
    }
}

bool ClientConnection::gone() const {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLRDHUP, 0};
    // POLLRDHUP: the peer shut its side (a closed socket); POLLHUP/POLLERR: reset or dead.
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

}  // namespace nibble::server
