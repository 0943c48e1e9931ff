// Network drivers of the vault (network_drivers.h): the spec parser and the lab driver.
#include "vault/network_drivers.h"

#include <charconv>
#include <mutex>

#include "lab/lab.h"
#include "lab/probe.h"
#include "net/topology_parser.h"

namespace lifeline::vault {
namespace {

constexpr char kLabSteps[] = "connect-connection, disconnect-connection, verify-path";

class LabDriver final : public control::NetworkDriver {
 public:
  explicit LabDriver(lab::LabOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "lab"; }
  std::set<std::string> Steps() const override {
    return {"connect-connection", "disconnect-connection", "verify-path"};
  }

  Status Run(control::StepContext& ctx, const control::NetworkCall& call) override {
    std::lock_guard lock(mu_);
    if (call.step == "disconnect-connection" || call.step == "connect-connection") {
      LL_ASSIGN_OR_RETURN(std::string circuit, CircuitOf(call));
      if (call.step == "disconnect-connection") {
        ctx.Log("lab " + o_.name + ": failing circuit " + circuit + " (links down)");
        return lab::LabFail(o_, circuit, lab::FailMode::kDown).WithContext("lab driver");
      }
      ctx.Log("lab " + o_.name + ": healing circuit " + circuit);
      Status s = lab::LabHeal(o_, circuit);
      if (s.code() == Code::kNotFound && s.message().find("is not failed") != std::string::npos) {
        ctx.Log("circuit " + circuit + " was not failed: already connected");
        return Status::Ok();
      }
      return s.WithContext("lab driver");
    }
    if (call.step == "verify-path") return VerifyPath(ctx, call);
    return Status::FailedPrecondition("the lab network driver cannot perform step '" + call.step +
                                      "' (it performs " + kLabSteps + ")");
  }

 private:
  static std::string Arg(const control::NetworkCall& call, const std::string& key) {
    auto it = call.args.find(key);
    return it == call.args.end() ? "" : it->second;
  }

  // The circuit a connect/disconnect step acts on: `circuit`, or the circuit of the
  // topology's `connection`.
  Result<std::string> CircuitOf(const control::NetworkCall& call) const {
    std::string circuit = Arg(call, "circuit");
    const std::string connection = Arg(call, "connection");
    if (!circuit.empty()) return circuit;
    if (connection.empty())
      return Status::InvalidArgument("lab driver: step " + call.step +
                                     " needs the argument connection or circuit");
    LL_ASSIGN_OR_RETURN(auto st, lab::LoadLabState(o_));
    if (!st.contains("topology_copy") || !st["topology_copy"].is_string())
      return Status::Corruption("lab " + o_.name + ": state without its topology");
    LL_ASSIGN_OR_RETURN(net::Topology t, net::LoadTopology(st["topology_copy"].get<std::string>()));
    for (const auto& c : t.connections)
      if (c.name == connection) return c.circuit;
    for (const auto& c : t.circuits)
      if (c.name == connection) return c.name;
    return Status::NotFound("lab driver: lab " + o_.name + " has no connection '" + connection +
                            "'");
  }

  Status VerifyPath(control::StepContext& ctx, const control::NetworkCall& call) const {
    const std::string from = Arg(call, "from"), to = Arg(call, "to");
    std::string expect = Arg(call, "expect");
    if (expect.empty()) expect = "reachable";
    if (from.empty() || to.empty())
      return Status::InvalidArgument("lab driver: verify-path needs the arguments from and to");
    if (expect != "reachable" && expect != "unreachable")
      return Status::InvalidArgument("lab driver: expect must be reachable or unreachable, not '" +
                                     expect + "'");
    double duration_s = 2;
    if (std::string d = Arg(call, "duration_s"); !d.empty()) {
      auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), duration_s);
      if (ec != std::errc() || end != d.data() + d.size() || duration_s < 0.2 || duration_s > 30)
        return Status::InvalidArgument("lab driver: duration_s must be 0.2..30, not '" + d + "'");
    }
    LL_ASSIGN_OR_RETURN(auto a, lab::LabEndpoint(o_, from));
    LL_ASSIGN_OR_RETURN(auto b, lab::LabEndpoint(o_, to));
    lab::ProbeOptions po;
    po.from_ns = a.first;
    po.to_ns = b.first;
    po.to_address = b.second;
    po.duration_s = duration_s;
    po.interval_ms = 10;
    LL_ASSIGN_OR_RETURN(lab::ProbeResult r, lab::RunProbe(po));
    const std::string seen = from + " -> " + to + " (" + b.second + "): " +
                             std::to_string(r.received) + " of " + std::to_string(r.sent) +
                             " probes answered";
    ctx.Log("lab " + o_.name + ": " + seen);
    // Reachable: at least 90 % answered (a path that converges mid-probe is not yet
    // verified). Unreachable: none answered.
    const bool reachable = r.sent > 0 && r.received * 10 >= r.sent * 9;
    if (expect == "reachable" && !reachable)
      return Status::IOError("verify-path: " + seen + ", expected reachable");
    if (expect == "unreachable" && r.received != 0)
      return Status::IOError("verify-path: " + seen + ", expected unreachable");
    return Status::Ok();
  }

  const lab::LabOptions o_;
  mutable std::mutex mu_;
};

}  // namespace

Result<std::unique_ptr<control::NetworkDriver>> MakeNetworkDriver(const std::string& spec) {
  if (spec.empty()) return std::unique_ptr<control::NetworkDriver>();
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "command") {
    if (rest.empty() || rest[0] != '/')
      return Status::InvalidArgument("network driver command:PATH needs an absolute path, got '" +
                                     spec.substr(0, 200) + "'");
    return control::MakeCommandNetworkDriver({.path = rest});
  }
  if (kind == "lab") {
    lab::LabOptions o;
    const size_t second = rest.find(':');
    o.name = rest.substr(0, second);
    if (second != std::string::npos) o.state_dir = rest.substr(second + 1);
    bool ok_name = !o.name.empty() && o.name.size() <= 32;
    for (char c : o.name)
      ok_name = ok_name && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_');
    if (!ok_name || (second != std::string::npos && (o.state_dir.empty() || o.state_dir[0] != '/')))
      return Status::InvalidArgument(
          "network driver lab:NAME[:STATE_DIR] needs a lab name (letters, digits, - _) and an "
          "absolute state directory, got '" + spec.substr(0, 200) + "'");
    return std::unique_ptr<control::NetworkDriver>(new LabDriver(std::move(o)));
  }
  return Status::InvalidArgument("unknown network driver '" + spec.substr(0, 200) +
                                 "': use command:PATH or lab:NAME");
}

}  // namespace lifeline::vault
