// The `command` network driver (network_driver.h).
#include "control/network_driver.h"

#include <charconv>

#include "control/process.h"

namespace lifeline::control {
namespace {

class CommandDriver final : public NetworkDriver {
 public:
  explicit CommandDriver(CommandDriverOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "command"; }
  std::set<std::string> Steps() const override { return {}; }

  Status Run(StepContext& ctx, const NetworkCall& call) override {
    int64_t timeout_ms = o_.timeout_ms;
    if (auto it = call.args.find("timeout_s"); it != call.args.end()) {
      int64_t s = 0;
      auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), s);
      if (ec != std::errc() || end != it->second.data() + it->second.size() || s < 1 || s > 86400)
        return Status::InvalidArgument("network step " + call.step + ": timeout_s must be 1..86400, not '" +
                                       it->second.substr(0, 32) + "'");
      timeout_ms = s * 1000;
    }
    ProcessSpec spec;
    spec.argv = {o_.path, call.step};
    spec.env = {{"LIFELINE_NET_STEP", call.step},       {"LIFELINE_PLAN", call.plan},
                {"LIFELINE_OPERATION", call.operation}, {"LIFELINE_GROUP", call.group},
                {"LIFELINE_ACTION", call.action},       {"LIFELINE_SIDE", call.side},
                {"LIFELINE_JOB_ID", std::to_string(call.job_id)},
                {"LIFELINE_ATTEMPT", std::to_string(call.attempt)}};
    for (const auto& [k, v] : call.args) spec.env.emplace_back(NetworkArgEnvName(k), v);
    ctx.Log("network driver command: " + o_.path + " " + call.step);
    LL_ASSIGN_OR_RETURN(Process p, Process::Spawn(spec));
    int lines = 0;
    auto code = p.Wait(
        timeout_ms,
        [&](std::string_view line) {
          if (++lines <= 1000) ctx.Log("[" + call.step + "] " + std::string(line));
        },
        [&] { return ctx.ShouldStop(); }, o_.kill_grace_ms);
    if (!code.ok())
      return code.status().WithContext("network driver command, step " + call.step);
    if (*code != 0)
      return Status::IOError("network driver command: " + o_.path + " " + call.step +
                             " exited with code " + std::to_string(*code));
    return Status::Ok();
  }

 private:
  const CommandDriverOptions o_;
};

}  // namespace

std::string NetworkArgEnvName(const std::string& key) {
  std::string out = "LIFELINE_NET_ARG_";
  for (char c : key) {
    if (c >= 'a' && c <= 'z') out += char(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) out += c;
    else out += '_';
  }
  return out;
}

std::unique_ptr<NetworkDriver> MakeCommandNetworkDriver(CommandDriverOptions options) {
  return std::make_unique<CommandDriver>(std::move(options));
}

}  // namespace lifeline::control
