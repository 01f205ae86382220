// lib/rpc against real gRPC: a service's HTTP port taking gRPC connections beside HTTP/1.1, the health
// protocol, metadata and deadlines both ways, statuses ↔ canonical errors, in-process channels.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "mercato/api/health.grpc.pb.h"
#include "mercato/api/user.grpc.pb.h"
#include "mercato/http/server.hpp"
#include "mercato/rpc/client.hpp"
#include "mercato/rpc/server.hpp"
#include "mercato/rpc/status.hpp"
#include "mercato/testing/block_on.hpp"
#include "mercato/testing/raw_http.hpp"

namespace mercato::rpc {
namespace {

using namespace std::chrono_literals;
namespace v1 = mercato::user::v1;
namespace health = grpc::health::v1;

// A Users service whose answer the test decides: "slow" sleeps 2 s, "throw" throws, "gone" is NOT_FOUND.
class TestUsers final : public v1::Users::CallbackService {
 public:
  explicit TestUsers(Server& server) : server_(server) {}

  grpc::ServerUnaryReactor* CustomerExists(grpc::CallbackServerContext* call,
                                           const v1::CustomerExistsRequest* request,
                                           v1::CustomerExistsReply* reply) override {
    return server_.serve(call, "CustomerExists",
                         [this, request, reply](const Incoming& in) -> boost::asio::awaitable<grpc::Status> {
                           {
                             std::lock_guard lock(mutex);
                             seen = in;
                           }
                           const auto& id = request->customer_id();
                           if (id == "slow") {
                             boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 2s);
                             co_await timer.async_wait(boost::asio::use_awaitable);
                           }
                           if (id == "throw") throw std::runtime_error("secret detail at 10.0.0.7");
                           if (id == "gone") co_return to_status(Error::not_found("user", id));
                           reply->set_exists(true);
                           co_return grpc::Status::OK;
                         });
  }

  std::mutex mutex;
  Incoming seen;  // guarded by mutex

 private:
  Server& server_;
};

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rpc_ = std::make_unique<Server>(
        "user", pool_, [this]() -> boost::asio::awaitable<bool> { co_return ready_.load(); }, logger_,
        metrics_);
    users_ = std::make_unique<TestUsers>(*rpc_);
    rpc_->add(*users_);
    rpc_->start();
    http::Router router;
    router.get("/hello",
               [](const http::Request&) { return http::Response::json_text(200, R"({"hello":1})"); });
    http_ =
        std::make_unique<http::Server>(pool_, http::ServerSettings{}, std::move(router), logger_, metrics_);
    http_->on_http2([this](int fd) { rpc_->adopt(fd); });
    http_->start();
    pool_.start();
    channel_ = channels_.get({"127.0.0.1", http_->port()});
  }

  void TearDown() override {
    rpc_->shutdown(1s);
    std::promise<void> done;
    http_->shutdown([&] { done.set_value(); });
    done.get_future().wait();
    pool_.stop();
    pool_.join();
  }

  // CustomerExists(id) from a coroutine, as a service calls it.
  std::pair<grpc::Status, bool> exists(const std::string& id, Outgoing out = {}) {
    auto call = [](std::shared_ptr<grpc::Channel> channel, std::string customer,
                   Outgoing outgoing) -> boost::asio::awaitable<std::pair<grpc::Status, bool>> {
      grpc::ClientContext context;
      prepare(context, outgoing);
      v1::CustomerExistsRequest request;
      request.set_customer_id(customer);
      v1::CustomerExistsReply reply;
      auto stub = v1::Users::NewStub(channel);
      auto status = co_await finished(
          [&](auto done) { stub->async()->CustomerExists(&context, &request, &reply, std::move(done)); });
      co_return std::pair{status, reply.exists()};
    };
    return testing::block_on(pool_, call(channel_, id, out));
  }

  health::HealthCheckResponse::ServingStatus check(const std::string& service,
                                                   grpc::Status* status_out = nullptr) {
    auto stub = health::Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    health::HealthCheckRequest request;
    request.set_service(service);
    health::HealthCheckResponse response;
    auto status = stub->Check(&context, request, &response);
    if (status_out != nullptr) *status_out = status;
    return response.status();
  }

  obs::Logger logger_{"rpc_test", obs::LogLevel::kError};
  obs::Registry metrics_;
  http::IoPool pool_{2};
  std::atomic<bool> ready_{true};
  std::unique_ptr<Server> rpc_;
  std::unique_ptr<TestUsers> users_;
  std::unique_ptr<http::Server> http_;
  Channels channels_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(RpcTest, OnePortServesHttpAndGrpc) {
  auto answer =
      testing::exchange(http_->port(), "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(testing::status_of(answer), 200);
  auto [status, found] = exists("u1");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(found);
  // And HTTP/1.1 again after gRPC took its connection.
  answer = testing::exchange(http_->port(), "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(testing::status_of(answer), 200);
}

TEST_F(RpcTest, AnHttp1RequestSentByteByByteIsStillHttp1) {
  int fd = testing::connect_to(http_->port());
  ASSERT_GE(fd, 0);
  std::string request = "PUT /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  for (char c : request.substr(0, 2)) {  // "PU": a prefix of neither preface nor any decision yet
    testing::send_all(fd, std::string_view(&c, 1));
    std::this_thread::sleep_for(5ms);  // bytes apart on the wire, not a readiness wait
  }
  testing::send_all(fd, request.substr(2));
  auto answer = testing::read_until(fd);
  ::close(fd);
  EXPECT_EQ(testing::status_of(answer), 405);  // HTTP/1.1 routing answered: /hello has GET only
}

TEST_F(RpcTest, AMethodThatBeginsLikeThePrefaceIsStillHttp1) {
  auto answer =
      testing::exchange(http_->port(), "PRIVATE /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_GE(testing::status_of(answer), 400) << answer;  // an HTTP/1.1 refusal, not HTTP/2 frames
  EXPECT_LT(testing::status_of(answer), 500) << answer;
}

TEST_F(RpcTest, HealthAnswersTheServicesReadiness) {
  EXPECT_EQ(check(""), health::HealthCheckResponse::SERVING);
  EXPECT_EQ(check("user"), health::HealthCheckResponse::SERVING);
  ready_ = false;
  EXPECT_EQ(check(""), health::HealthCheckResponse::NOT_SERVING);
  grpc::Status status;
  check("order", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RpcTest, MetadataTravelsAndTheTraceContinues) {
  std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto [status, found] = exists(
      "u1", {.request_id = "req-42", .traceparent = parent, .authorization = "Bearer abc", .timeout = 3s});
  ASSERT_TRUE(status.ok());
  std::lock_guard lock(users_->mutex);
  EXPECT_EQ(users_->seen.request_id, "req-42");
  EXPECT_EQ(users_->seen.authorization, "Bearer abc");
  auto seen = obs::TraceContext::parse(users_->seen.traceparent);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(seen->span_id, "00f067aa0ba902b7");  // the server's own span
  ASSERT_TRUE(users_->seen.deadline);
  auto left = *users_->seen.deadline - std::chrono::steady_clock::now();
  EXPECT_GT(left, 1s);
  EXPECT_LE(left, 3s + 100ms);  // grpc-timeout rounds up to whole units of its own
}

TEST_F(RpcTest, ABadRequestIdIsReplaced) {
  auto [status, found] = exists("u1", {.request_id = std::string(200, 'x')});
  ASSERT_TRUE(status.ok());
  std::lock_guard lock(users_->mutex);
  EXPECT_EQ(users_->seen.request_id.size(), 36U);  // a new uuid
}

TEST_F(RpcTest, TheCallersDeadlineBoundsTheCall) {
  auto started = std::chrono::steady_clock::now();
  auto [status, found] =
      exists("slow", {.deadline = std::chrono::steady_clock::now() + 200ms, .timeout = 5s});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);  // not the handler's 2 s
  auto error = to_error(status);
  EXPECT_EQ(error.code, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(http_status(error.code), 504);
  EXPECT_TRUE(is_failure(status));
}

TEST_F(RpcTest, ErrorsTravelAsStatuses) {
  auto [gone, found] = exists("gone");
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(gone.error_message(), "user gone not found");
  EXPECT_FALSE(is_failure(gone));
  EXPECT_EQ(to_error(gone).code, ErrorCode::kNotFound);
  // A handler's exception: INTERNAL, and its text stays in the log.
  auto [thrown, unused] = exists("throw");
  EXPECT_EQ(thrown.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(thrown.error_message().find("10.0.0.7"), std::string::npos);
  EXPECT_TRUE(is_failure(thrown));
  auto text = metrics_.render();
  EXPECT_NE(text.find(R"(grpc_server_requests_total{code="INTERNAL",method="CustomerExists"} 1)"),
            std::string::npos)
      << text;
}

TEST_F(RpcTest, InProcessChannelsReachTheServerWithoutTheNetwork) {
  LocalServers local;
  local.add(http_->port(), *rpc_);
  Channels channels(&local);
  auto stub = v1::Users::NewStub(channels.get({"127.0.0.1", http_->port()}));
  grpc::ClientContext context;
  v1::CustomerExistsRequest request;
  request.set_customer_id("u1");
  v1::CustomerExistsReply reply;
  auto status = stub->CustomerExists(&context, request, &reply);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(reply.exists());
  // Not local: another host.
  EXPECT_EQ(local.find({"10.0.0.1", http_->port()}), nullptr);
}

TEST_F(RpcTest, AStoppedServerIsUnavailableToTheClient) {
  Channels channels;
  testing::LoopbackListener closed;  // a port nobody will answer gRPC on once closed
  auto port = closed.port();
  closed.close();
  auto stub = v1::Users::NewStub(channels.get({"127.0.0.1", port}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);
  v1::CustomerExistsRequest request;
  v1::CustomerExistsReply reply;
  auto status = stub->CustomerExists(&context, request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(is_failure(status));
}

TEST(StatusTest, CanonicalErrorsMapToGrpcCodesAndBack) {
  EXPECT_EQ(to_status(Error::validation("id", "bad id")).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(to_status(Error::unauthenticated("no")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(to_status(Error::permission_denied("no")).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(to_status(Error::unprocessable("no")).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(to_status(Error::unavailable("no")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(to_status(Error::deadline_exceeded("no")).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Private text of a 5xx stays home; a public one travels.
  auto internal = to_status(Error::internal("db at 10.0.0.7 refused"));
  EXPECT_EQ(internal.error_message().find("10.0.0.7"), std::string::npos);
  auto public_text = Error::unavailable("db at 10.0.0.7 refused").with_public_message("the store is down");
  EXPECT_EQ(to_status(public_text).error_message(), "the store is down");
  // Every canonical code survives the trip, but for those that share a gRPC code.
  for (auto code : {ErrorCode::kValidationFailed, ErrorCode::kUnauthenticated, ErrorCode::kPermissionDenied,
                    ErrorCode::kNotFound, ErrorCode::kMethodNotAllowed, ErrorCode::kConflict,
                    ErrorCode::kUnprocessable, ErrorCode::kRateLimited, ErrorCode::kInternal,
                    ErrorCode::kBadGateway, ErrorCode::kUnavailable, ErrorCode::kDeadlineExceeded}) {
    EXPECT_EQ(to_error(to_status(Error{code, "x", {}})).code, code) << to_string(code);
  }
  EXPECT_EQ(to_error(grpc::Status(grpc::StatusCode::CANCELLED, "")).code, ErrorCode::kUnavailable);
  EXPECT_FALSE(is_failure(grpc::Status::OK));
  EXPECT_FALSE(is_failure(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "")));
}

}  // namespace
}  // namespace mercato::rpc
