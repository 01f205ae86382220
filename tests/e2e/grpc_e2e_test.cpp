// The services' gRPC as an attacker and a prober meet it: the real user and inventory binaries, called on
// their own ports with grpc++ (api/*.proto). Who may ask what (tokens as over HTTP), hostile arguments
// (too many ids, ids that are not ids, an oversized message), and the standard health protocol.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mercato/api/health.grpc.pb.h"
#include "mercato/api/inventory.grpc.pb.h"
#include "mercato/api/user.grpc.pb.h"
#include "mercato/core/ids.hpp"
#include "mercato/testing/testing.hpp"
#include "mercato/testing/tokens.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace health = grpc::health::v1;

std::shared_ptr<grpc::Channel> channel_to(std::uint16_t port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
}

void with_deadline(grpc::ClientContext& call, const std::string& authorization = {}) {
  call.set_deadline(std::chrono::system_clock::now() + 5s);
  if (!authorization.empty()) call.AddMetadata("authorization", authorization);
}

class GrpcE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(testing::temp_dir("grpc-" + random_hex(4)));
    user_ = new testing::ServiceProcess("user", *dir_);
    inventory_ = new testing::ServiceProcess("inventory", *dir_);
    for (auto* s : {user_, inventory_}) ASSERT_TRUE(testing::wait_ready(s->port)) << s->process->log();
  }
  static void TearDownTestSuite() {
    delete inventory_;
    delete user_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static grpc::Status exists(const std::string& id, const std::string& authorization, bool* found = nullptr) {
    auto stub = user::v1::Users::NewStub(channel_to(user_->port));
    grpc::ClientContext call;
    with_deadline(call, authorization);
    user::v1::CustomerExistsRequest request;
    request.set_customer_id(id);
    user::v1::CustomerExistsReply reply;
    auto status = stub->CustomerExists(&call, request, &reply);
    if (found != nullptr) *found = reply.exists();
    return status;
  }

  static grpc::Status prices(const std::vector<std::string>& ids, const std::string& authorization,
                             inventory::v1::GetPricesReply* reply) {
    auto stub = inventory::v1::Catalog::NewStub(channel_to(inventory_->port));
    grpc::ClientContext call;
    with_deadline(call, authorization);
    inventory::v1::GetPricesRequest request;
    for (const auto& id : ids) request.add_product_ids(id);
    return stub->GetPrices(&call, request, reply);
  }

  static inline std::filesystem::path* dir_ = nullptr;
  static inline testing::ServiceProcess* user_ = nullptr;
  static inline testing::ServiceProcess* inventory_ = nullptr;
};

TEST_F(GrpcE2E, OnlyServicesMayAskWhetherACustomerExists) {
  const auto& tokens = testing::TestTokens::instance();
  auto created = testing::http(
      user_->port, "POST", "/users",
      R"({"email":"grpc-)" + random_hex(6) + R"(@example.com","name":"Gus","password":"correct horse"})",
      {{"Authorization", ""}});
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(created.json().at("id").as_string());

  bool found = false;
  auto ok = exists(id, tokens.bearer(auth::Role::kService, "order"), &found);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_TRUE(found);
  ok = exists("no-such-user", tokens.bearer(auth::Role::kService, "order"), &found);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_FALSE(found);

  EXPECT_EQ(exists(id, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);  // anonymous: 401 over HTTP
  EXPECT_EQ(exists(id, tokens.bearer(auth::Role::kCustomer, id)).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(exists(id, "Bearer not-a-token").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(exists(id, "Basic dXNlcjpwYXNz").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(exists(std::string(200, 'a'), tokens.bearer(auth::Role::kService, "order")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcE2E, PricesComeInOneCallAndHostileArgumentsAreRefused) {
  auto put = testing::http(inventory_->port, "PUT", "/inventory/grpc-plum",
                           R"({"name":"Plum","price_cents":120,"available":5})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  put = testing::http(inventory_->port, "PUT", "/inventory/grpc-kiwi",
                      R"({"name":"Kiwi","price_cents":80,"available":5})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;

  inventory::v1::GetPricesReply reply;
  // Public, as the REST catalog: no token needed; a repeated id is answered once, an unknown one left out.
  auto status = prices({"grpc-plum", "grpc-kiwi", "grpc-plum", "grpc-none"}, "", &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::int64_t> got;
  for (const auto& p : reply.prices()) got[p.product_id()] = p.price_cents();
  EXPECT_EQ(got, (std::map<std::string, std::int64_t>{{"grpc-kiwi", 80}, {"grpc-plum", 120}}));

  std::vector<std::string> too_many(101, "grpc-plum");
  status = prices(too_many, "", &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("at most 100"), std::string::npos) << status.error_message();
  status = prices({"grpc-plum", "../etc/passwd"}, "", &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("product_ids[1]"), std::string::npos) << status.error_message();
  EXPECT_EQ(prices({"grpc-plum"}, "Bearer forged", &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Larger than the service's server.max_body_bytes (1 MiB): refused by gRPC before any handler runs.
  status = prices({std::string(std::size_t{2} * 1024 * 1024, 'x')}, "", &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // And the service still answers.
  EXPECT_TRUE(prices({"grpc-kiwi"}, "", &reply).ok());
}

TEST_F(GrpcE2E, TheHealthProtocolAnswersTheServicesReadiness) {
  for (auto* s : {user_, inventory_}) {
    auto stub = health::Health::NewStub(channel_to(s->port));
    for (const std::string& name : {std::string(), s->name}) {
      grpc::ClientContext call;
      with_deadline(call);
      health::HealthCheckRequest request;
      request.set_service(name);
      health::HealthCheckResponse response;
      auto status = stub->Check(&call, request, &response);
      ASSERT_TRUE(status.ok()) << s->name << ": " << status.error_message();
      EXPECT_EQ(response.status(), health::HealthCheckResponse::SERVING) << s->name;
    }
    grpc::ClientContext call;
    with_deadline(call);
    health::HealthCheckRequest request;
    request.set_service("payment");
    health::HealthCheckResponse response;
    EXPECT_EQ(stub->Check(&call, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

}  // namespace
}  // namespace mercato
