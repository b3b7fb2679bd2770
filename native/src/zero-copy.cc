// zero-copy.cc: sendfile(2) from the page cache to plain-TCP sockets, off the event
// loop and off libuv's threadpool (docs/zero-copy.md).
//
// Exposed (all called on the JS thread; see app/zero-copy/native.ts):
//
//   zeroCopyStart(onEvent, threadsPerKey, parkMs) once per JS environment
//   socketSendLimit(sockFd, bytes) -> bool        TCP_NOTSENT_LOWAT on a socket
//   socketUnsent(sockFd) -> bytes not yet sent (SIOCOUTQNSD), or -1
//   zeroCopySend(key, sockFd, fileFd, offset, length, callBytes) -> job id (number)
//   zeroCopyCancel(id)                            idempotent
//   zeroCopyStats() -> [{ key, jobs, busyMs }]
//
// onEvent(id, bytesSent, errno, done) runs on the JS thread: progress while bytes move
// (at most every kProgressMs per job, so the server's stall timer can be re-armed) and
// once with done = true at the end (errno 0: every byte sent; ENODATA: the file ended
// early; EAGAIN: parked, see below; anything else: the socket or the disk failed;
// ECANCELED: zeroCopyCancel).
//
// Parking: a job whose socket has been full for parkMs (a client that paused; not a slow
// disk, which an O_NONBLOCK file can also answer with EAGAIN) ends
// with EAGAIN and closes its two dups; JS waits for the client through Node (one small
// write) and submits the rest as a new job. A paused download then holds no descriptor
// beyond Node's own socket: 10,000 paused downloads would otherwise need 30,000.
//
// Why it is built like this (measured in ../shared/notes/io-findings.md):
// - Dedicated sender threads per `key` (the caller passes the file's volume: up to
//   threadsPerKey of them, VOLUME_MAX_INFLIGHT, so a volume keeps the queue depth its
//   gate allows; a job stays on the thread it was given), each with its own epoll. A slow client never holds a thread: the socket is non-blocking
//   (libuv made it so; the dup shares that flag), EAGAIN parks the job in epoll. A
//   hung disk blocks sendfile inside the kernel, and then only the thread of that
//   volume: other volumes keep sending. busyMs tells JS how long the thread has been
//   inside one sendfile call, so a stuck volume can be failed by its deadline.
// - Both descriptors are dup()ed on the JS thread while they are certainly valid:
//   libuv may close the socket (timeout, destroy) and reuse its number, and the caller
//   closes the file once it stops waiting; the thread only ever touches its own dups.
// - Cancel shuts the socket down at once (shutdown acts on the connection, not on one
//   descriptor), so a client whose request was given up sees the connection close even
//   while the thread is stuck on a dying disk.
// - Sender threads are detached: a thread stuck in the kernel must not hang process
//   exit. After the environment's cleanup hook has run they never call into JS again.

#include <napi.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#ifdef __linux__
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace rangeserve_zero_copy {
namespace {

#ifdef __linux__

// Bytes one job may send before the thread turns to the next ready job (fairness
// between fast clients on one volume). Each sendfile call is further capped at the
// job's callBytes (READ_CHUNK_BYTES): one call then reads what one JS-path read would,
// so busyMs against READ_TIMEOUT_MS means what a read's deadline means there.
constexpr int64_t kTurnBytes = 4 * 1024 * 1024;
constexpr int64_t kProgressMs = 200;
constexpr int kMaxEvents = 64;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Event {
  uint64_t id;
  double bytes;
  int err;
  bool done;
};

struct Job {
  uint64_t id;
  int sock;
  int file;
  off_t pos;
  off_t end;  // exclusive
  int64_t callBytes;
  int64_t sent = 0;
  int64_t reported = 0;
  int64_t lastReportNs = 0;
  int64_t blockedSinceNs = 0;  // first EAGAIN without progress since; 0 while moving
  bool queued = false;  // in the ready list
};

// Shared by the JS thread and every sender thread of one environment.
struct Channel {
  std::mutex mu;
  bool open = true;  // false once the env is being torn down: no more calls into JS
  Napi::ThreadSafeFunction tsfn;

  void Post(uint64_t id, int64_t bytes, int err, bool done) {
    std::lock_guard<std::mutex> lock(mu);
    if (!open) return;
    auto* e = new Event{id, static_cast<double>(bytes), err, done};
    auto call = [](Napi::Env env, Napi::Function fn, Event* ev) {
      if (env != nullptr && fn != nullptr) {
        fn.Call({Napi::Number::New(env, static_cast<double>(ev->id)), Napi::Number::New(env, ev->bytes),
                 Napi::Number::New(env, ev->err), Napi::Boolean::New(env, ev->done)});
      }
      delete ev;
    };
    if (tsfn.NonBlockingCall(e, call) != napi_ok) delete e;
  }
};

class Sender {
 public:
  Sender(std::string key, std::shared_ptr<Channel> channel, int64_t parkMs)
      : key_(std::move(key)), channel_(std::move(channel)), parkNs_(parkMs * 1000000) {}

  // Creates the epoll set and starts the (detached) thread; false with errno on failure.
  bool Start(std::shared_ptr<Sender> self) {
    auto fail = [this]() {
      int err = errno;
      if (wake_ >= 0) close(wake_);
      if (ep_ >= 0) close(ep_);
      wake_ = ep_ = -1;
      errno = err;
      return false;
    };
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return fail();
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) return fail();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;  // job ids start at 1
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev) != 0) return fail();
    std::thread([self]() {
      pthread_setname_np(pthread_self(), "rs-zero-copy");  // visible in top -H and /proc/<pid>/task
      self->Run();
    }).detach();
    return true;
  }

  void Submit(Job* job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      incoming_.push_back(job);
      socks_[job->id] = job->sock;
      jobs_++;
    }
    Wake();
  }

  // Returns false if this sender has no such job (already finished).
  bool Cancel(uint64_t id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = socks_.find(id);
      if (it == socks_.end()) return false;
      shutdown(it->second, SHUT_RDWR);
      cancels_.push_back(id);
    }
    Wake();
    return true;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    Wake();
  }

  const std::string& key() const { return key_; }
  int jobs() const { return jobs_.load(); }
  double BusyMs() const {
    int64_t since = busySinceNs_.load();
    return since == 0 ? 0.0 : static_cast<double>(NowNs() - since) / 1e6;
  }

 private:
  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = write(wake_, &one, sizeof(one));
    (void)ignored;
  }

  void Finish(Job* job, int err) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      socks_.erase(job->id);
    }
    epoll_ctl(ep_, EPOLL_CTL_DEL, job->sock, nullptr);
    close(job->sock);
    close(job->file);
    channel_->Post(job->id, job->sent, err, true);
    jobs_--;
    live_.erase(job->id);
    delete job;
  }

  enum class Pumped { kBlocked, kMore, kDone };

  // Sends from the job until the socket is full, the turn is used up, or it ends.
  Pumped Pump(Job* job) {
    int64_t budget = kTurnBytes > job->callBytes ? kTurnBytes : job->callBytes;
    while (budget > 0) {
      int64_t want64 = static_cast<int64_t>(job->end - job->pos);
      if (want64 > budget) want64 = budget;
      if (want64 > job->callBytes) want64 = job->callBytes;
      size_t want = static_cast<size_t>(want64);
      busySinceNs_.store(NowNs());
      ssize_t n = sendfile(job->sock, job->file, &job->pos, want);
      int err = errno;
      busySinceNs_.store(0);
      if (n > 0) {
        job->sent += n;
        job->blockedSinceNs = 0;
        budget -= n;
        if (job->pos >= job->end) {
          Finish(job, 0);
          return Pumped::kDone;
        }
        continue;
      }
      if (n == 0) {
        // End of file before the planned end: the file shrank under us.
        Finish(job, ENODATA);
        return Pumped::kDone;
      }
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        // Only a full socket is the client's doing: a file opened O_NONBLOCK can give EAGAIN
        // too while its pages are read in (a slow disk), and such a job must not park (its
        // resumption would add reads to the slow volume).
        pollfd p{job->sock, POLLOUT, 0};
        bool socketFull = !(poll(&p, 1, 0) > 0 && (p.revents & POLLOUT) != 0);
        if (!socketFull) job->blockedSinceNs = 0;
        else if (job->blockedSinceNs == 0) job->blockedSinceNs = NowNs();
        return Pumped::kBlocked;
      }
      Finish(job, err);
      return Pumped::kDone;
    }
    return Pumped::kMore;
  }

  void Run() {
    epoll_event events[kMaxEvents];
    std::deque<uint64_t> ready;
    int64_t lastSweepNs = NowNs();
    for (;;) {
      int timeout = !ready.empty() ? 0 : (live_.empty() ? -1 : static_cast<int>(kProgressMs));
      int n = epoll_wait(ep_, events, kMaxEvents, timeout);
      for (int i = 0; i < n; i++) {
        uint64_t id = events[i].data.u64;
        if (id == 0) {
          uint64_t count;
          ssize_t ignored = read(wake_, &count, sizeof(count));
          (void)ignored;
          continue;
        }
        auto it = live_.find(id);
        if (it != live_.end() && !it->second->queued) {
          it->second->queued = true;
          ready.push_back(id);
        }
      }
      std::vector<Job*> incoming;
      std::vector<uint64_t> cancels;
      bool stopping;
      {
        std::lock_guard<std::mutex> lock(mu_);
        incoming.swap(incoming_);
        cancels.swap(cancels_);
        stopping = stopping_;
      }
      for (Job* job : incoming) {
        live_[job->id] = job;
        // Edge-triggered: registered before the first attempt, so an EAGAIN below is
        // always followed by an event when the socket drains.
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLET;
        ev.data.u64 = job->id;
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, job->sock, &ev) != 0) {
          Finish(job, errno);
          continue;
        }
        job->queued = true;
        job->lastReportNs = NowNs();
        ready.push_back(job->id);
      }
      for (uint64_t id : cancels) {
        auto it = live_.find(id);
        if (it != live_.end()) Finish(it->second, ECANCELED);
      }
      if (stopping) {
        while (!live_.empty()) Finish(live_.begin()->second, ECANCELED);
        close(ep_);
        close(wake_);
        return;
      }
      for (size_t k = ready.size(); k > 0; k--) {
        uint64_t id = ready.front();
        ready.pop_front();
        auto it = live_.find(id);
        if (it == live_.end()) continue;
        Job* job = it->second;
        job->queued = false;
        if (Pump(job) == Pumped::kMore) {
          job->queued = true;
          ready.push_back(id);
        }
      }
      int64_t now = NowNs();
      if (now - lastSweepNs >= kProgressMs * 1000000 / 2) {
        lastSweepNs = now;
        if (parkNs_ > 0) {
          std::vector<Job*> parked;
          for (auto& entry : live_) {
            Job* job = entry.second;
            if (job->blockedSinceNs != 0 && now - job->blockedSinceNs >= parkNs_) parked.push_back(job);
          }
          for (Job* job : parked) Finish(job, EAGAIN);
        }
        for (auto& entry : live_) {
          Job* job = entry.second;
          if (job->sent != job->reported && now - job->lastReportNs >= kProgressMs * 1000000) {
            job->reported = job->sent;
            job->lastReportNs = now;
            channel_->Post(job->id, job->sent, 0, false);
          }
        }
      }
    }
  }

  const std::string key_;
  std::shared_ptr<Channel> channel_;
  const int64_t parkNs_;  // 0: never park
  int ep_ = -1;
  int wake_ = -1;
  std::mutex mu_;
  std::vector<Job*> incoming_;
  std::vector<uint64_t> cancels_;
  std::unordered_map<uint64_t, int> socks_;  // live jobs' socket dups, for Cancel's shutdown
  bool stopping_ = false;
  std::atomic<int> jobs_{0};
  std::atomic<int64_t> busySinceNs_{0};
  std::unordered_map<uint64_t, Job*> live_;  // sender thread only
};

// Per JS environment (the addon also loads in worker_threads for hints).
struct State {
  std::shared_ptr<Channel> channel;
  std::map<std::string, std::vector<std::shared_ptr<Sender>>> senders;
  size_t perKey = 1;
  int64_t parkMs = 0;
  std::unordered_map<uint64_t, std::shared_ptr<Sender>> owner;  // job id -> sender (JS thread)
  uint64_t nextId = 1;
};

State* StateOf(Napi::Env env) {
  State* s = env.GetInstanceData<State>();
  if (s == nullptr) {
    s = new State();
    env.SetInstanceData<State>(s);
  }
  return s;
}

void ThrowSys(Napi::Env env, int err, const char* syscall_name) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall_name) + " failed: " + std::to_string(err));
  e.Value().Set("errno", Napi::Number::New(env, -err));
  e.Value().Set("syscall", Napi::String::New(env, syscall_name));
  e.ThrowAsJavaScriptException();
}

bool ReadInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string("\"") + name + "\" must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::trunc(v) != v || v < 0 || v > 9007199254740991.0) {
    Napi::RangeError::New(info.Env(), std::string("\"") + name + "\" must be a non-negative safe integer")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

Napi::Value Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "\"onEvent\" must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  State* s = StateOf(env);
  if (s->channel) return env.Undefined();  // started already
  int64_t perKey = 1;
  if (info.Length() > 1 && !info[1].IsUndefined() && !ReadInt(info, 1, "threadsPerKey", &perKey)) return env.Undefined();
  s->perKey = perKey < 1 ? 1 : (perKey > 64 ? 64 : static_cast<size_t>(perKey));
  int64_t parkMs = 0;
  if (info.Length() > 2 && !info[2].IsUndefined() && !ReadInt(info, 2, "parkMs", &parkMs)) return env.Undefined();
  s->parkMs = parkMs;
  auto channel = std::make_shared<Channel>();
  channel->tsfn = Napi::ThreadSafeFunction::New(
      env, info[0].As<Napi::Function>(), "rangeserve-zero-copy", 0, 1);
  // Pending transfers must not keep a process alive that has nothing else to do.
  channel->tsfn.Unref(env);
  s->channel = channel;
  // Registered after the tsfn, so it runs before the tsfn's own teardown.
  env.AddCleanupHook([s]() {
    {
      std::lock_guard<std::mutex> lock(s->channel->mu);
      s->channel->open = false;
    }
    for (auto& entry : s->senders) {
      for (auto& sender : entry.second) sender->Stop();
    }
    s->channel->tsfn.Release();
  });
  return env.Undefined();
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* s = StateOf(env);
  if (!s->channel) {
    Napi::Error::New(env, "zeroCopyStart was not called").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "\"key\" must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string key = info[0].As<Napi::String>().Utf8Value();
  int64_t sockFd, fileFd, offset, length, callBytes;
  if (!ReadInt(info, 1, "sockFd", &sockFd) || !ReadInt(info, 2, "fileFd", &fileFd) ||
      !ReadInt(info, 3, "offset", &offset) || !ReadInt(info, 4, "length", &length) ||
      !ReadInt(info, 5, "callBytes", &callBytes)) {
    return env.Undefined();
  }
  if (length == 0 || callBytes == 0 || sockFd > INT32_MAX || fileFd > INT32_MAX) {
    Napi::RangeError::New(env, "nothing to send or fd out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // The least busy sender of this key; a new one while all are busy and the key has room.
  std::vector<std::shared_ptr<Sender>>& pool = s->senders[key];
  std::shared_ptr<Sender> sender;
  for (auto& candidate : pool) {
    if (!sender || candidate->jobs() < sender->jobs()) sender = candidate;
  }
  if (!sender || (sender->jobs() > 0 && pool.size() < s->perKey)) {
    auto created = std::make_shared<Sender>(key, s->channel, s->parkMs);
    if (created->Start(created)) {
      pool.push_back(created);
      sender = created;
    } else if (!sender) {
      ThrowSys(env, errno, "zero-copy sender");
      return env.Undefined();
    }
  }
  int sock = fcntl(static_cast<int>(sockFd), F_DUPFD_CLOEXEC, 0);
  if (sock < 0) {
    ThrowSys(env, errno, "dup");
    return env.Undefined();
  }
  int file = fcntl(static_cast<int>(fileFd), F_DUPFD_CLOEXEC, 0);
  if (file < 0) {
    int err = errno;
    close(sock);
    ThrowSys(env, err, "dup");
    return env.Undefined();
  }
  auto* job = new Job{s->nextId++, sock, file, static_cast<off_t>(offset),
                      static_cast<off_t>(offset + length), callBytes};
  s->owner[job->id] = sender;
  uint64_t id = job->id;
  sender->Submit(job);
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id;
  if (!ReadInt(info, 0, "id", &id)) return env.Undefined();
  State* s = StateOf(env);
  auto it = s->owner.find(static_cast<uint64_t>(id));
  if (it == s->owner.end()) return env.Undefined();
  it->second->Cancel(static_cast<uint64_t>(id));
  s->owner.erase(it);
  return env.Undefined();
}

// Forgets a finished job's owner (called by JS when it sees done = true).
Napi::Value Forget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id;
  if (!ReadInt(info, 0, "id", &id)) return env.Undefined();
  StateOf(env)->owner.erase(static_cast<uint64_t>(id));
  return env.Undefined();
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* s = StateOf(env);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& entry : s->senders) {
    for (auto& sender : entry.second) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("key", Napi::String::New(env, entry.first));
      o.Set("jobs", Napi::Number::New(env, sender->jobs()));
      o.Set("busyMs", Napi::Number::New(env, sender->BusyMs()));
      out.Set(i++, o);
    }
  }
  return out;
}

// TCP_NOTSENT_LOWAT: the kernel takes no more bytes for this socket while `bytes` of it
// wait unsent, so a client that stops reading holds at most that much in the send queue
// (and the server reads no further ahead for it), while bytes in flight to a reading
// client do not count. True if the option was set.
Napi::Value SendLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, bytes;
  if (!ReadInt(info, 0, "sockFd", &fd) || !ReadInt(info, 1, "bytes", &bytes)) return env.Undefined();
  if (fd > INT32_MAX || bytes > INT32_MAX) return Napi::Boolean::New(env, false);
  int v = static_cast<int>(bytes);
  bool ok = setsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v)) == 0;
  return Napi::Boolean::New(env, ok);
}

// Bytes in the socket's send queue not yet sent (SIOCOUTQNSD), or -1.
Napi::Value Unsent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ReadInt(info, 0, "sockFd", &fd)) return env.Undefined();
  int n = 0;
  if (fd > INT32_MAX || ioctl(static_cast<int>(fd), SIOCOUTQNSD, &n) != 0) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, n);
}

#else  // not Linux: the functions exist and throw, zeroCopySupported is false

Napi::Value Unsupported(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "zero-copy needs Linux").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
#define Start Unsupported
#define Send Unsupported
#define Cancel Unsupported
#define Forget Unsupported
#define Stats Unsupported
#define SendLimit Unsupported
#define Unsent Unsupported

#endif

}  // namespace

// Called once from the addon's Init (rangeserve.cc).
void InitZeroCopy(Napi::Env env, Napi::Object exports) {
  exports.Set("zeroCopyStart", Napi::Function::New(env, Start, "zeroCopyStart"));
  exports.Set("zeroCopySend", Napi::Function::New(env, Send, "zeroCopySend"));
  exports.Set("zeroCopyCancel", Napi::Function::New(env, Cancel, "zeroCopyCancel"));
  exports.Set("zeroCopyForget", Napi::Function::New(env, Forget, "zeroCopyForget"));
  exports.Set("zeroCopyStats", Napi::Function::New(env, Stats, "zeroCopyStats"));
  exports.Set("socketSendLimit", Napi::Function::New(env, SendLimit, "socketSendLimit"));
  exports.Set("socketUnsent", Napi::Function::New(env, Unsent, "socketUnsent"));
#ifdef __linux__
  exports.Set("zeroCopySupported", Napi::Boolean::New(env, true));
#else
  exports.Set("zeroCopySupported", Napi::Boolean::New(env, false));
#endif
}

}  // namespace rangeserve_zero_copy
