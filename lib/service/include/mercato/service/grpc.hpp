// A service's gRPC (README "gRPC between services"), in a library of its own (mercato_service_grpc): only
// the services that serve or call gRPC link it, so the others do not load gRPC's libraries at all.
//
//   service::grpc_server(ctx).add(ctx.own(std::make_unique<UsersGrpc>(service::grpc_server(ctx), ...)));
//   auto channel = service::grpc_channels(ctx).get(instance);
//
// Thread-safety: call both in setup (the host's thread), as the rest of a service's wiring.
#pragma once

#include "mercato/rpc/client.hpp"
#include "mercato/rpc/server.hpp"
#include "mercato/service/service.hpp"

namespace mercato::service {

// This service's gRPC server, made on first use. Add the service's generated CallbackServices to it in
// setup (owned by the context); the host starts it and serves it on the service's own port.
rpc::Server& grpc_server(Context& ctx);
// Channels to other services' gRPC: one per instance; in-process to a module of the same process.
rpc::Channels& grpc_channels(Context& ctx);

}  // namespace mercato::service
