// The client socket of one request, to notice a client that left while nothing is being
// written to it (a non-streaming reply is written only at its end). cpp-httplib 0.11
// does not hand the socket to handlers, so it is found among the process's descriptors by
// the request's two endpoints (unique among open TCP connections); it stays open until the
// handler returns.
#pragma once

#include <httplib.h>

namespace nibble::server {

class ClientConnection {
public:
    /// The connection `req` came on; one that cannot be found is never reported gone.
    explicit ClientConnection(const httplib::Request& req);

    /// The client closed or reset its side: no reply can reach it. Costs one poll(2).
    [[nodiscard]] bool gone() const;

private:
    int fd_ = -1;
};

}  // namespace nibble::server
