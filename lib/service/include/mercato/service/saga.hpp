// The order saga's style in a system, `saga.mode` in a service's configuration: orchestration (the
// default), choreography or none. The order service reads it to coordinate new sagas that way; each
// participant (inventory, payment, shipping) reads the same key to know what to subscribe to:
//   orchestration, none  the saga's commands only (<family>.<verb>_requested);
//   choreography         the commands, and the events that drive a choreographed saga
//                        (order.created, inventory.reserved, payment.processed, order.confirmed,
//                        order.cancelled, each where the participant acts on it).
// A participant in orchestration mode is not handed the choreography events at all: in an orchestrated
// system they are two thirds of a participant's deliveries, each one an inbox write for nothing
// (docs/benchmarks.md). `./mercato up` sets every one of these services from MERCATO_SAGA_MODE, and the
// shipped configs agree (orchestration), so the fact has one source per system.
//
// Commands are consumed in every mode: a saga keeps the style it started with, so orchestrated sagas
// still in flight when a system switches to choreography finish. The other way round, a participant
// switched to orchestration no longer sees the events of choreographed sagas still in flight (their
// compensation included): switch from choreography only once no such saga runs (docs/saga.md).
#pragma once

#include "mercato/config/config.hpp"

namespace mercato::service {

enum class SagaMode { kOrchestration, kChoreography, kNone };

// `saga` is the service's "saga" section; an unknown value is a ConfigError naming the key.
SagaMode read_saga_mode(const config::Section& saga);

}  // namespace mercato::service
