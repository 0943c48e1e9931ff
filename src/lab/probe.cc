// Probe packets carry their sequence number; the sender keeps the send time of every probe
// (bounded by duration / interval) and computes the outage from answered sequence numbers.
#include "lab/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace lifeline::lab {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kMaxProbes = 10'000'000;

int OpenNs(const std::string& ns) {
  return open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
}

// Creates a UDP socket inside namespace `ns` (the calling thread returns to its own).
Result<int> SocketIn(const std::string& ns) {
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = OpenNs(ns);
  if (self < 0 || target < 0) {
    if (self >= 0) close(self);
    if (target >= 0) close(target);
    return Status::NotFound("no network namespace '" + ns + "'");
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    close(self);
    close(target);
    return Status::IOError(std::string("setns: ") + strerror(errno));
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int back = setns(self, CLONE_NEWNET);
  close(self);
  close(target);
  if (back != 0) return Status::IOError("cannot return to the original namespace");
  if (fd < 0) return Status::IOError(std::string("socket: ") + strerror(errno));
  return fd;
}

[[noreturn]] void Responder(int fd) {
  char buf[64];
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n > 0) sendto(fd, buf, n, 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

}  // namespace

Result<ProbeResult> RunProbe(const ProbeOptions& o) {
  if (o.interval_ms <= 0 || o.duration_s <= 0) return Status::InvalidArgument("bad probe timing");
  int64_t total = static_cast<int64_t>(o.duration_s * 1000 / o.interval_ms);
  if (total > kMaxProbes) return Status::InvalidArgument("probe too long");
  LL_ASSIGN_OR_RETURN(int rfd, SocketIn(o.to_ns));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(o.port);
  if (bind(rfd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0) {
    close(rfd);
    return Status::IOError(std::string("bind responder: ") + strerror(errno));
  }
  pid_t child = fork();
  if (child < 0) return Status::IOError("fork");
  if (child == 0) Responder(rfd);
  close(rfd);
  auto kill_child = [&] {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  };
  auto sfd = SocketIn(o.from_ns);
  if (!sfd.ok()) {
    kill_child();
    return sfd.status();
  }
  int fd = sfd.value();
  fcntl(fd, F_SETFL, O_NONBLOCK);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(o.port);
  if (inet_pton(AF_INET, o.to_address.c_str(), &to.sin_addr) != 1) {
    close(fd);
    kill_child();
    return Status::InvalidArgument("bad address " + o.to_address);
  }
  std::vector<double> sent_at(total, -1);
  std::vector<char> answered(total, 0);
  ProbeResult res;
  auto start = Clock::now();
  auto secs = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  std::thread action_thread;
  bool action_started = !o.action;
  int64_t next = 0;
  double end_s = o.duration_s + 0.5;  // stragglers
  while (secs() < end_s) {
    double now = secs();
    if (!action_started && now >= o.action_after_s) {
      action_started = true;
      res.action_at_s = now;
      action_thread = std::thread(o.action);
    }
    while (next < total && now >= next * o.interval_ms / 1000.0) {
      uint64_t seq = next;
      sendto(fd, &seq, sizeof seq, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      sent_at[next] = now;
      ++next;
      ++res.sent;
    }
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, 1);
    uint64_t seq;
    while (recv(fd, &seq, sizeof seq, 0) == static_cast<ssize_t>(sizeof seq)) {
      if (seq < static_cast<uint64_t>(total) && !answered[seq]) {
        answered[seq] = 1;
        ++res.received;
      }
    }
  }
  if (action_thread.joinable()) action_thread.join();
  close(fd);
  kill_child();
  // The longest span between two answered probes (or the stream's edges).
  double last_ok = 0;
  for (int64_t i = 0; i < next; ++i) {
    if (!answered[i]) {
      ++res.lost;
      continue;
    }
    double gap = sent_at[i] - last_ok - o.interval_ms / 1000.0;
    if (gap > res.longest_outage_s) {
      res.longest_outage_s = gap;
      res.outage_start_s = last_ok;
    }
    last_ok = sent_at[i];
  }
  if (next > 0) {
    double tail = sent_at[next - 1] - last_ok;
    if (tail > res.longest_outage_s) {
      res.longest_outage_s = tail;
      res.outage_start_s = last_ok;
    }
  }
  if (res.longest_outage_s < 0) res.longest_outage_s = 0;
  return res;
}

}  // namespace lifeline::lab
