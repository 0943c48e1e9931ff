#include "control/launcher.h"

#include <charconv>

#include "common/clock.h"
#include "control/process.h"

namespace lifeline::control {
namespace {

using Json = nlohmann::json;

// qemu option values separate fields with ',': a literal comma is written twice.
std::string QemuEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

struct NbdTarget {
  std::string host, port, exportname, socket;
};

Result<NbdTarget> ParseNbdUrl(const std::string& url) {
  NbdTarget t;
  if (url.rfind("nbd+unix://", 0) == 0) {
    std::string rest = url.substr(11);
    size_t q = rest.find("?socket=");
    if (q == std::string::npos)
      return Status::InvalidArgument("NBD URL " + url + " has no ?socket=");
    t.socket = rest.substr(q + 8);
    std::string path = rest.substr(0, q);
    if (!path.empty() && path[0] == '/') path = path.substr(1);
    t.exportname = path;
    return t;
  }
  if (url.rfind("nbd://", 0) != 0)
    return Status::InvalidArgument("'" + url + "' is not an nbd:// or nbd+unix:// URL");
  std::string rest = url.substr(6);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) t.exportname = rest.substr(slash + 1);
  if (!hostport.empty() && hostport[0] == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("bad IPv6 host in " + url);
    t.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':')
      t.port = hostport.substr(close + 2);
  } else {
    size_t colon = hostport.rfind(':');
    t.host = hostport.substr(0, colon);
    if (colon != std::string::npos) t.port = hostport.substr(colon + 1);
  }
  if (t.host.empty()) return Status::InvalidArgument("NBD URL " + url + " has no host");
  if (t.port.empty()) t.port = "10809";
  int port = 0;
  auto [p, ec] = std::from_chars(t.port.data(), t.port.data() + t.port.size(), port);
  if (ec != std::errc() || p != t.port.data() + t.port.size() || port < 1 || port > 65535) {
    return Status::InvalidArgument("NBD URL " + url + " has a bad port");
  }
  return t;
}

Result<std::vector<std::string>> DriveArgs(const LaunchSpec& spec) {
  std::vector<std::string> out;
  for (size_t i = 0; i < spec.disks.size(); ++i) {
    const LaunchDisk& d = spec.disks[i];
    if (d.format != "raw" && d.format != "qcow2")
      return Status::InvalidArgument("disk format must be raw or qcow2");
    std::string v;
    if (!d.nbd_url.empty()) {
      LL_ASSIGN_OR_RETURN(NbdTarget t, ParseNbdUrl(d.nbd_url));
      v = "driver=" + d.format + ",file.driver=nbd";
      if (!t.socket.empty()) {
        v += ",file.server.type=unix,file.server.path=" + QemuEscape(t.socket);
      } else {
        v += ",file.server.type=inet,file.server.host=" + QemuEscape(t.host) +
             ",file.server.port=" + t.port;
      }
      if (!t.exportname.empty()) v += ",file.export=" + QemuEscape(t.exportname);
      // Exports come back at the same URL after a vault restart (point_export.h): qemu
      // holds the guest's I/O and reconnects instead of failing the disk.
      v += ",file.reconnect-delay=" + std::to_string(kNbdReconnectDelaySeconds);
    } else if (!d.image_path.empty()) {
      v = "driver=" + d.format + ",file.driver=file,file.filename=" + QemuEscape(d.image_path);
    } else {
      return Status::InvalidArgument("disk " + std::to_string(i) + " of " + spec.machine +
                                     " has neither an NBD URL nor a path");
    }
    v += ",if=virtio,cache=none";
    out.push_back("-drive");
    out.push_back(v);
  }
  return out;
}

Result<std::vector<std::string>> NicArgs(const LaunchSpec& spec, const QemuConfig& config) {
  std::vector<std::string> out;
  if (config.nic_mode == "none" || spec.nics.empty()) {
    out = {"-nic", "none"};
  } else {
    for (const LaunchNic& n : spec.nics) {
      std::string v;
      if (config.nic_mode == "user") {
        v = "user,model=virtio-net-pci";
      } else if (config.nic_mode == "bridge") {
        auto it = config.bridges.find(n.network);
        if (it == config.bridges.end()) {
          return Status::InvalidArgument("qemu launcher: no bridge configured for network " +
                                         n.network + " (set bridges." + n.network +
                                         " in the launcher config)");
        }
        v = "bridge,br=" + QemuEscape(it->second) + ",model=virtio-net-pci";
      } else {
        return Status::InvalidArgument("qemu launcher: nic_mode must be none, user or bridge");
      }
      if (!n.mac.empty()) v += ",mac=" + QemuEscape(n.mac);
      out.push_back("-nic");
      out.push_back(v);
    }
  }
  // The guest learns its addresses from fw_cfg (qemu cannot set a guest's IP itself).
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    const LaunchNic& n = spec.nics[i];
    if (n.ip.empty()) continue;
    out.push_back("-fw_cfg");
    out.push_back("name=opt/lifeline/nic" + std::to_string(i) + ",string=" +
                  QemuEscape(n.ip + "/" + std::to_string(n.prefix_len) +
                             (n.gateway.empty() ? "" : " gw " + n.gateway)));
  }
  return out;
}

class ProcessLauncher : public Launcher {
 protected:
  Result<LaunchHandle> Spawn(const LaunchSpec& spec, std::vector<std::string> argv,
                             std::vector<std::pair<std::string, std::string>> env) {
    if (spec.work_dir.empty())
      return Status::InvalidArgument("launcher needs a work directory for its log");
    ProcessSpec ps;
    ps.argv = argv;
    ps.env = std::move(env);
    ps.cwd = spec.work_dir;
    ps.output_path = spec.work_dir + "/" + spec.machine + ".log";
    LL_ASSIGN_OR_RETURN(Process p, Process::Spawn(ps));
    p.Detach();
    LaunchHandle h;
    h.pid = p.pid();
    h.log_path = ps.output_path;
    h.argv = std::move(argv);
    h.started_unix_nanos = Clock::System()->NowUnixNanos();
    return h;
  }
};

class QemuLauncher final : public ProcessLauncher {
 public:
  explicit QemuLauncher(QemuConfig c) : config_(std::move(c)) {}
  Result<LaunchHandle> Start(const LaunchSpec& spec) override {
    LL_ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildQemuCommand(spec, config_));
    return Spawn(spec, std::move(argv), LaunchEnvironment(spec));
  }

 private:
  QemuConfig config_;
};

class CommandLauncher final : public ProcessLauncher {
 public:
  CommandLauncher(std::vector<std::string> command, std::map<std::string, std::string> env)
      : command_(std::move(command)), env_(std::move(env)) {}
  Result<LaunchHandle> Start(const LaunchSpec& spec) override {
    auto env = LaunchEnvironment(spec);
    for (const auto& [k, v] : env_) env.emplace_back(k, v);
    return Spawn(spec, command_, std::move(env));
  }

 private:
  std::vector<std::string> command_;
  std::map<std::string, std::string> env_;
};

Result<std::vector<std::string>> StringList(const Json& j, const char* what) {
  std::vector<std::string> out;
  if (!j.is_array())
    return Status::InvalidArgument(std::string(what) + " must be a list of strings");
  for (const Json& s : j) {
    if (!s.is_string())
      return Status::InvalidArgument(std::string(what) + " must be a list of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

Status Launcher::Stop(const LaunchHandle& handle, int64_t grace_ms) {
  return StopProcessGroup(handle.pid, grace_ms);
}

Result<LaunchStatus> Launcher::GetStatus(const LaunchHandle& handle) {
  auto code = PollPid(handle.pid);
  if (!code.ok()) {
    if (code.status().code() == Code::kNotFound) return LaunchStatus{false, -1};
    return code.status();
  }
  if (*code < 0) return LaunchStatus{true, -1};
  return LaunchStatus{false, *code};
}

std::vector<std::string> DefaultQemuTemplate() {
  return {"{binary}", "-name",        "{machine}",  "-accel",     "{accel}",  "-smp",   "{cpus}",
          "-m",       "{memory_mib}", "-nographic", "-no-reboot", "{drives}", "{nics}", "{extra}"};
}

Result<QemuConfig> QemuConfig::FromJson(const Json& j) {
  QemuConfig c;
  if (j.is_null()) return c;
  if (!j.is_object()) return Status::InvalidArgument("qemu launcher config must be an object");
  for (const auto& [key, v] : j.items()) {
    if (key == "binary" && v.is_string()) {
      c.binary = v.get<std::string>();
    } else if (key == "accel" && v.is_string()) {
      c.accel = v.get<std::string>();
    } else if (key == "nic_mode" && v.is_string()) {
      c.nic_mode = v.get<std::string>();
    } else if (key == "template") {
      LL_ASSIGN_OR_RETURN(c.template_args, StringList(v, "template"));
    } else if (key == "extra_args") {
      LL_ASSIGN_OR_RETURN(c.extra_args, StringList(v, "extra_args"));
    } else if (key == "bridges" && v.is_object()) {
      for (const auto& [net, br] : v.items()) {
        if (!br.is_string()) return Status::InvalidArgument("bridges." + net + " must be a string");
        c.bridges[net] = br.get<std::string>();
      }
    } else {
      return Status::InvalidArgument("qemu launcher config: unknown or mistyped key '" + key +
                                     "' (binary, accel, template, nic_mode, bridges, extra_args)");
    }
  }
  if (c.nic_mode != "none" && c.nic_mode != "user" && c.nic_mode != "bridge") {
    return Status::InvalidArgument("qemu launcher config: nic_mode must be none, user or bridge");
  }
  return c;
}

Result<std::vector<std::string>> BuildQemuCommand(const LaunchSpec& spec,
                                                  const QemuConfig& config) {
  if (spec.cpus < 1 || spec.cpus > 256) return Status::InvalidArgument("cpus must be 1..256");
  if (spec.memory_mib < 16) return Status::InvalidArgument("memory must be at least 16 MiB");
  LL_ASSIGN_OR_RETURN(std::vector<std::string> drives, DriveArgs(spec));
  LL_ASSIGN_OR_RETURN(std::vector<std::string> nics, NicArgs(spec, config));
  const std::vector<std::string> tmpl =
      config.template_args.empty() ? DefaultQemuTemplate() : config.template_args;
  std::map<std::string, std::string> scalars = {{"{binary}", config.binary},
                                                {"{machine}", spec.machine},
                                                {"{accel}", config.accel},
                                                {"{cpus}", std::to_string(spec.cpus)},
                                                {"{memory_mib}", std::to_string(spec.memory_mib)},
                                                {"{operation}", spec.operation}};
  std::vector<std::string> out;
  for (const std::string& arg : tmpl) {
    if (arg == "{drives}") {
      out.insert(out.end(), drives.begin(), drives.end());
    } else if (arg == "{nics}") {
      out.insert(out.end(), nics.begin(), nics.end());
    } else if (arg == "{extra}") {
      out.insert(out.end(), config.extra_args.begin(), config.extra_args.end());
    } else {
      std::string s = arg;
      for (const auto& [k, v] : scalars) {
        for (size_t pos = s.find(k); pos != std::string::npos; pos = s.find(k, pos + v.size()))
          s.replace(pos, k.size(), v);
      }
      if (s.find('{') != std::string::npos && s.find('}') != std::string::npos &&
          s.find("{}") == std::string::npos) {
        size_t a = s.find('{');
        return Status::InvalidArgument("qemu template: unknown placeholder in '" + arg + "' at " +
                                       std::to_string(a));
      }
      out.push_back(std::move(s));
    }
  }
  if (out.empty()) return Status::InvalidArgument("qemu template is empty");
  return out;
}

std::vector<std::pair<std::string, std::string>> LaunchEnvironment(const LaunchSpec& spec) {
  std::vector<std::pair<std::string, std::string>> env = {
      {"LIFELINE_MACHINE", spec.machine},
      {"LIFELINE_OPERATION", spec.operation},
      {"LIFELINE_CPUS", std::to_string(spec.cpus)},
      {"LIFELINE_MEMORY_MIB", std::to_string(spec.memory_mib)},
      {"LIFELINE_DISK_COUNT", std::to_string(spec.disks.size())},
      {"LIFELINE_NIC_COUNT", std::to_string(spec.nics.size())},
  };
  for (size_t i = 0; i < spec.disks.size(); ++i) {
    const LaunchDisk& d = spec.disks[i];
    std::string p = "LIFELINE_DISK_" + std::to_string(i);
    env.emplace_back(p, d.nbd_url.empty() ? d.image_path : d.nbd_url);
    if (!d.nbd_url.empty()) env.emplace_back(p + "_URL", d.nbd_url);
    if (!d.image_path.empty()) env.emplace_back(p + "_PATH", d.image_path);
    env.emplace_back(p + "_FORMAT", d.format);
  }
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    const LaunchNic& n = spec.nics[i];
    std::string p = "LIFELINE_NIC_" + std::to_string(i);
    env.emplace_back(p + "_NETWORK", n.network);
    env.emplace_back(p + "_IP", n.ip);
    env.emplace_back(p + "_PREFIX", std::to_string(n.prefix_len));
    env.emplace_back(p + "_GATEWAY", n.gateway);
    env.emplace_back(p + "_MAC", n.mac);
  }
  return env;
}

LauncherRegistry LauncherRegistry::WithBuiltins() {
  LauncherRegistry r;
  (void)r.Register("qemu", [](const Json& config) -> Result<std::unique_ptr<Launcher>> {
    LL_ASSIGN_OR_RETURN(QemuConfig c, QemuConfig::FromJson(config));
    return std::unique_ptr<Launcher>(new QemuLauncher(std::move(c)));
  });
  (void)r.Register("command", [](const Json& config) -> Result<std::unique_ptr<Launcher>> {
    if (!config.is_object() || !config.contains("command")) {
      return Status::InvalidArgument(
          "command launcher config needs \"command\": [\"/path/to/start\", args...]");
    }
    std::vector<std::string> command;
    if (config["command"].is_string()) {
      command = {"/bin/sh", "-c", config["command"].get<std::string>()};
    } else {
      LL_ASSIGN_OR_RETURN(command, StringList(config["command"], "command"));
    }
    if (command.empty() || command[0].empty())
      return Status::InvalidArgument("command launcher: empty command");
    std::map<std::string, std::string> env;
    if (config.contains("env")) {
      if (!config["env"].is_object())
        return Status::InvalidArgument("command launcher: env must be an object");
      for (const auto& [k, v] : config["env"].items()) {
        if (!v.is_string())
          return Status::InvalidArgument("command launcher: env." + k + " must be a string");
        if (k.rfind("LIFELINE_", 0) == 0)
          return Status::InvalidArgument("command launcher: env." + k +
                                         " uses the reserved LIFELINE_ prefix");
        env[k] = v.get<std::string>();
      }
    }
    for (const auto& [k, v] : config.items()) {
      if (k != "command" && k != "env")
        return Status::InvalidArgument("command launcher config: unknown key '" + k +
                                       "' (command, env)");
    }
    return std::unique_ptr<Launcher>(new CommandLauncher(std::move(command), std::move(env)));
  });
  return r;
}

lifeline::Status LauncherRegistry::Register(const std::string& name, LauncherFactory factory) {
  if (!factories_.emplace(name, std::move(factory)).second) {
    return lifeline::Status::InvalidArgument("launcher " + name + " is already registered");
  }
  return lifeline::Status::Ok();
}

Result<std::unique_ptr<Launcher>> LauncherRegistry::Create(const std::string& name,
                                                           const Json& config) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    std::string names;
    for (const auto& [n, f] : factories_) names += (names.empty() ? "" : ", ") + n;
    return lifeline::Status::NotFound("no launcher named '" + name + "' (known: " + names + ")");
  }
  return it->second(config);
}

std::vector<std::string> LauncherRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [n, f] : factories_) out.push_back(n);
  return out;
}

}  // namespace lifeline::control
