// rangeserve_native: page-cache and I/O-priority hints for the download server.
//
// Exposes three synchronous functions and a constants object:
//
//   fadvise(fd, offset, length, advice)  -> undefined   posix_fadvise(2)
//   fadviseAsync(fd, [{offset, length, advice}, ...]) -> Promise<void>   the same, on libuv's pool
//   ioprioSet(cls, level)                -> undefined   ioprio_set(2), calling thread
//   ioprioGet()                          -> { class, level, value }   ioprio_get(2), calling thread
//   constants                            -> { POSIX_FADV_*, IOPRIO_CLASS_*, ... }
//   supported                            -> true on Linux, false for the stub build
//
// Every call but fadviseAsync is synchronous on the calling thread. POSIX_FADV_WILLNEED submits I/O
// before returning (it can block on a slow disk), so callers issue hints from a
// worker thread, not from the event loop. The module is context-aware (N-API), so
// each worker_threads Worker can load it and gets its own constants object.
//
// Argument errors are TypeError/RangeError. System errors are Error objects shaped
// like Node's fs errors: `code` ('EBADF'), `errno` (NEGATIVE, the libuv convention
// Node uses: EBADF is -9), `syscall` ('posix_fadvise', 'ioprio_set', 'ioprio_get'),
// message "EBADF: Bad file descriptor, posix_fadvise".
//
// The feature is decided at build time: on anything but Linux every function throws
// ENOSYS and `supported` is false.

#include <napi.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#ifdef __linux__
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

// Zero-copy sendfile senders (zero-copy.cc).
namespace rangeserve_zero_copy {
void InitZeroCopy(Napi::Env env, Napi::Object exports);
}

namespace {

// Linux <linux/ioprio.h> values, spelled out so the build does not depend on
// kernel headers being installed.
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioClassNone = 0;
constexpr int kIoprioClassRt = 1;
constexpr int kIoprioClassBe = 2;
constexpr int kIoprioClassIdle = 3;
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioMaxLevel = 7;

// Largest integer a JS number holds exactly (2^53 - 1).
constexpr double kMaxSafeInteger = 9007199254740991.0;

// ErrnoName returns the symbolic name of an errno value. A switch (not
// strerrorname_np) keeps the build portable to older C libraries; the list covers
// every error posix_fadvise(2), ioprio_set(2)/ioprio_get(2), realpath(3) and stat(2)
// document, plus a few that a kernel may return through them.
const char* ErrnoName(int err) {
  switch (err) {
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ESPIPE: return "ESPIPE";
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    case EACCES: return "EACCES";
    case ENOMEM: return "ENOMEM";
    case EIO: return "EIO";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case ENODEV: return "ENODEV";
    case EOVERFLOW: return "EOVERFLOW";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case ESTALE: return "ESTALE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENOTCONN: return "ENOTCONN";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENXIO: return "ENXIO";
    case EISDIR: return "EISDIR";
#if defined(ENOTSUP) && (!defined(EOPNOTSUPP) || ENOTSUP != EOPNOTSUPP)
    case ENOTSUP: return "ENOTSUP";
#endif
#ifdef EOPNOTSUPP
    case EOPNOTSUPP: return "EOPNOTSUPP";
#endif
    default: return "UNKNOWN";
  }
}

// strerror_r comes in two flavours (XSI returns int, GNU returns char*); these
// overloads accept either, so the thread-safe call compiles with both.
[[maybe_unused]] const char* PickMessage(int rc, const char* buf) {
  return rc == 0 ? buf : "Unknown error";
}
[[maybe_unused]] const char* PickMessage(const char* rc, const char* /*buf*/) {
  return rc != nullptr ? rc : "Unknown error";
}

// ThrowErrno throws a Node-style system error for `err` (a positive errno value).
void ThrowErrno(Napi::Env env, int err, const char* syscall_name) {
  char buf[128];
  buf[0] = '\0';
  const char* text = PickMessage(strerror_r(err, buf, sizeof(buf)), buf);
  const char* code = ErrnoName(err);
  std::string message = std::string(code) + ": " + text + ", " + syscall_name;
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("code", Napi::String::New(env, code));
  obj.Set("errno", Napi::Number::New(env, -err));
  obj.Set("syscall", Napi::String::New(env, syscall_name));
  error.ThrowAsJavaScriptException();
}

// ReadSafeInteger reads argument `index` as an integer in [min, 2^53 - 1]. On
// failure it leaves a TypeError/RangeError pending and returns false.
bool ReadSafeInteger(const Napi::CallbackInfo& info, size_t index, const char* name,
                     double min, int64_t* out) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber()) {
    Napi::TypeError::New(env, std::string("The \"") + name + "\" argument must be of type number")
        .ThrowAsJavaScriptException();
    return false;
  }
  double v = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::trunc(v) != v || v < min || v > kMaxSafeInteger) {
    Napi::RangeError::New(env, std::string("The value of \"") + name +
                                   "\" is out of range. It must be an integer >= " +
                                   std::to_string(static_cast<int64_t>(min)) +
                                   " and <= 2^53 - 1")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

struct Named {
  const char* name;
  int value;
};

constexpr Named kAdviceNames[] = {
#ifdef __linux__
    {"normal", POSIX_FADV_NORMAL},       {"sequential", POSIX_FADV_SEQUENTIAL},
    {"random", POSIX_FADV_RANDOM},       {"willneed", POSIX_FADV_WILLNEED},
    {"dontneed", POSIX_FADV_DONTNEED},   {"noreuse", POSIX_FADV_NOREUSE},
#else
    // Linux values; only used to validate names in the stub build.
    {"normal", 0},   {"sequential", 2}, {"random", 1},
    {"willneed", 3}, {"dontneed", 4},   {"noreuse", 5},
#endif
};

constexpr Named kClassNames[] = {
    {"none", kIoprioClassNone},
    {"rt", kIoprioClassRt},
    {"be", kIoprioClassBe},
    {"idle", kIoprioClassIdle},
};

// ReadNamedOrNumber accepts either one of `table`'s names or any int32. Numbers
// are passed through unchanged, so an out-of-range value reaches the kernel and
// comes back as EINVAL (the documented contract), instead of being second-guessed
// here.
template <size_t N>
bool ReadNamedOrNumber(const Napi::CallbackInfo& info, size_t index, const char* name,
                       const Named (&table)[N], int* out) {
  Napi::Env env = info.Env();
  if (index < info.Length() && info[index].IsString()) {
    std::string s = info[index].As<Napi::String>().Utf8Value();
    for (const Named& entry : table) {
      if (s == entry.name) {
        *out = entry.value;
        return true;
      }
    }
    std::string allowed;
    for (const Named& entry : table) {
      if (!allowed.empty()) allowed += ", ";
      allowed += std::string("'") + entry.name + "'";
    }
    Napi::TypeError::New(env, std::string("The \"") + name + "\" argument must be one of " +
                                  allowed + " or a number. Received '" + s + "'")
        .ThrowAsJavaScriptException();
    return false;
  }
  if (index < info.Length() && info[index].IsNumber()) {
    double v = info[index].As<Napi::Number>().DoubleValue();
    if (std::isfinite(v) && std::trunc(v) == v && v >= INT32_MIN && v <= INT32_MAX) {
      *out = static_cast<int>(v);
      return true;
    }
  }
  Napi::TypeError::New(env, std::string("The \"") + name +
                                "\" argument must be a known name or an int32 number")
      .ThrowAsJavaScriptException();
  return false;
}

const char* ClassName(int cls) {
  for (const Named& entry : kClassNames) {
    if (entry.value == cls) return entry.name;
  }
  return "unknown";
}

// Fadvise implements fadvise(fd, offset, length, advice). `length` 0 means "to the
// end of the file", as in posix_fadvise(3).
Napi::Value Fadvise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  int64_t offset = 0;
  int64_t length = 0;
  int advice = 0;
  if (!ReadSafeInteger(info, 0, "fd", 0, &fd)) return env.Undefined();
  if (fd > INT32_MAX) {
    Napi::RangeError::New(env, "The value of \"fd\" is out of range. It must be an int32")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!ReadSafeInteger(info, 1, "offset", 0, &offset)) return env.Undefined();
  if (!ReadSafeInteger(info, 2, "length", 0, &length)) return env.Undefined();
  if (!ReadNamedOrNumber(info, 3, "advice", kAdviceNames, &advice)) return env.Undefined();
#ifdef __linux__
  // posix_fadvise returns the error number; it does not set errno.
  int rc = posix_fadvise(static_cast<int>(fd), static_cast<off_t>(offset),
                         static_cast<off_t>(length), advice);
  if (rc != 0) ThrowErrno(env, rc, "posix_fadvise");
#else
  ThrowErrno(env, ENOSYS, "posix_fadvise");
#endif
  return env.Undefined();
}

// IoprioSet implements ioprioSet(cls, level) for the calling thread
// (IOPRIO_WHO_PROCESS with who = 0 names the current thread, not the process).
Napi::Value IoprioSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int cls = 0;
  int64_t level = 0;
  if (!ReadNamedOrNumber(info, 0, "cls", kClassNames, &cls)) return env.Undefined();
  if (info.Length() < 2 || info[1].IsUndefined()) {
    level = 0;
  } else if (!ReadSafeInteger(info, 1, "level", 0, &level)) {
    return env.Undefined();
  }
  if (level > kIoprioMaxLevel) {
    Napi::RangeError::New(env, "The value of \"level\" is out of range. It must be >= 0 and <= 7")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
#if defined(__linux__) && defined(SYS_ioprio_set)
  int value = (cls << kIoprioClassShift) | static_cast<int>(level);
  long rc = syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, value);
  if (rc == -1) ThrowErrno(env, errno, "ioprio_set");
#else
  (void)cls;
  ThrowErrno(env, ENOSYS, "ioprio_set");
#endif
  return env.Undefined();
}

// IoprioGet implements ioprioGet() for the calling thread. `level` is the low three
// bits of the priority data; `value` is the raw ioprio word for diagnostics.
Napi::Value IoprioGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__linux__) && defined(SYS_ioprio_get)
  long rc = syscall(SYS_ioprio_get, kIoprioWhoProcess, 0);
  if (rc == -1) {
    ThrowErrno(env, errno, "ioprio_get");
    return env.Undefined();
  }
  int value = static_cast<int>(rc);
  int cls = value >> kIoprioClassShift;
  Napi::Object result = Napi::Object::New(env);
  result.Set("class", Napi::String::New(env, ClassName(cls)));
  result.Set("level", Napi::Number::New(env, value & kIoprioMaxLevel));
  result.Set("value", Napi::Number::New(env, value));
  return result;
#else
  ThrowErrno(env, ENOSYS, "ioprio_get");
  return env.Undefined();
#endif
}

// FadviseWorker runs a batch of posix_fadvise calls on libuv's threadpool
// (Napi::AsyncWorker), so POSIX_FADV_WILLNEED, which submits I/O and can block
// on a slow disk, never runs on the event loop. Every call of the batch is made
// even when one fails (each is independent advice); the promise rejects with the
// first failure, shaped like the synchronous errors.
class FadviseWorker : public Napi::AsyncWorker {
 public:
  struct Call {
    int64_t offset;
    int64_t length;
    int advice;
  };

  FadviseWorker(Napi::Env env, int fd, std::vector<Call> calls)
      : Napi::AsyncWorker(env, "rangeserve:fadvise"),
        deferred_(Napi::Promise::Deferred::New(env)),
        fd_(fd),
        calls_(std::move(calls)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
#ifdef __linux__
    for (const Call& c : calls_) {
      int rc = posix_fadvise(fd_, static_cast<off_t>(c.offset), static_cast<off_t>(c.length), c.advice);
      if (rc != 0 && first_error_ == 0) first_error_ = rc;
    }
#else
    first_error_ = ENOSYS;
#endif
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (first_error_ == 0) {
      deferred_.Resolve(env.Undefined());
      return;
    }
    ThrowErrno(env, first_error_, "posix_fadvise");
    Napi::Error error = env.GetAndClearPendingException();
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  std::vector<Call> calls_;
  int first_error_ = 0;
};

// FadviseAsync implements fadviseAsync(fd, hints) -> Promise<void>, where hints
// is an array of { offset, length, advice } objects (the same rules as fadvise).
// Arguments are checked here, on the calling thread, before anything is queued.
Napi::Value FadviseAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0;
  if (!ReadSafeInteger(info, 0, "fd", 0, &fd)) return env.Undefined();
  if (fd > INT32_MAX) {
    Napi::RangeError::New(env, "The value of \"fd\" is out of range. It must be an int32")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() < 2 || !info[1].IsArray()) {
    Napi::TypeError::New(env, "The \"hints\" argument must be an array of { offset, length, advice }")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<FadviseWorker::Call> calls;
  calls.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) {
      Napi::TypeError::New(env, "Each hint must be an object { offset, length, advice }")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object hint = item.As<Napi::Object>();
    Napi::Value fields[3] = {hint.Get("offset"), hint.Get("length"), hint.Get("advice")};
    FadviseWorker::Call call{0, 0, 0};
    const char* names[2] = {"offset", "length"};
    int64_t* outs[2] = {&call.offset, &call.length};
    for (int k = 0; k < 2; k++) {
      if (!fields[k].IsNumber()) {
        Napi::TypeError::New(env, std::string("The hint's \"") + names[k] + "\" must be of type number")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
      double v = fields[k].As<Napi::Number>().DoubleValue();
      if (!std::isfinite(v) || std::trunc(v) != v || v < 0 || v > kMaxSafeInteger) {
        Napi::RangeError::New(env, std::string("The hint's \"") + names[k] +
                                       "\" must be an integer >= 0 and <= 2^53 - 1")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
      *outs[k] = static_cast<int64_t>(v);
    }
    bool known = false;
    if (fields[2].IsString()) {
      std::string s = fields[2].As<Napi::String>().Utf8Value();
      for (const Named& entry : kAdviceNames) {
        if (s == entry.name) {
          call.advice = entry.value;
          known = true;
        }
      }
    } else if (fields[2].IsNumber()) {
      double v = fields[2].As<Napi::Number>().DoubleValue();
      if (std::isfinite(v) && std::trunc(v) == v && v >= INT32_MIN && v <= INT32_MAX) {
        call.advice = static_cast<int>(v);
        known = true;
      }
    }
    if (!known) {
      Napi::TypeError::New(env, "The hint's \"advice\" must be a known name or an int32 number")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    calls.push_back(call);
  }
  auto* worker = new FadviseWorker(env, static_cast<int>(fd), std::move(calls));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Object MakeConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("POSIX_FADV_NORMAL", Napi::Number::New(env, kAdviceNames[0].value));
  c.Set("POSIX_FADV_SEQUENTIAL", Napi::Number::New(env, kAdviceNames[1].value));
  c.Set("POSIX_FADV_RANDOM", Napi::Number::New(env, kAdviceNames[2].value));
  c.Set("POSIX_FADV_WILLNEED", Napi::Number::New(env, kAdviceNames[3].value));
  c.Set("POSIX_FADV_DONTNEED", Napi::Number::New(env, kAdviceNames[4].value));
  c.Set("POSIX_FADV_NOREUSE", Napi::Number::New(env, kAdviceNames[5].value));
  c.Set("IOPRIO_CLASS_NONE", Napi::Number::New(env, kIoprioClassNone));
  c.Set("IOPRIO_CLASS_RT", Napi::Number::New(env, kIoprioClassRt));
  c.Set("IOPRIO_CLASS_BE", Napi::Number::New(env, kIoprioClassBe));
  c.Set("IOPRIO_CLASS_IDLE", Napi::Number::New(env, kIoprioClassIdle));
  c.Set("IOPRIO_CLASS_SHIFT", Napi::Number::New(env, kIoprioClassShift));
  c.Set("IOPRIO_WHO_PROCESS", Napi::Number::New(env, kIoprioWhoProcess));
  c.Set("IOPRIO_MAX_LEVEL", Napi::Number::New(env, kIoprioMaxLevel));
  c.Freeze();
  return c;
}

// RejectErrno rejects `deferred` with the same Node-style system error ThrowErrno throws.
void RejectErrno(Napi::Promise::Deferred& deferred, int err, const char* syscall_name) {
  Napi::Env env = deferred.Env();
  ThrowErrno(env, err, syscall_name);
  deferred.Reject(env.GetAndClearPendingException().Value());
}

// StatObject turns a stat(2) result into { kind, size, mtimeNs, dev, ino }, the
// fields (and BigInt types) of Node's bigint stat that the engines use.
Napi::Object StatObject(Napi::Env env, const struct stat& st) {
  Napi::Object out = Napi::Object::New(env);
  const char* kind = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other";
  out.Set("kind", Napi::String::New(env, kind));
  out.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
#ifdef __APPLE__
  const struct timespec& mtim = st.st_mtimespec;
#else
  const struct timespec& mtim = st.st_mtim;
#endif
  uint64_t mtime_ns = static_cast<uint64_t>(mtim.tv_sec) * 1000000000ULL + static_cast<uint64_t>(mtim.tv_nsec);
  out.Set("mtimeNs", Napi::BigInt::New(env, mtime_ns));
  out.Set("dev", Napi::Number::New(env, static_cast<double>(st.st_dev)));
  out.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
  return out;
}

// ReadPath reads argument `index` as a path string without NUL bytes. On failure
// it leaves a TypeError pending and returns false.
bool ReadPath(const Napi::CallbackInfo& info, size_t index, std::string* out) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsString()) {
    Napi::TypeError::New(env, "The \"path\" argument must be of type string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    Napi::TypeError::New(env, "The \"path\" argument must not contain null bytes").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// ResolveStatWorker runs realpath(3) and then stat(2) of the result in one task on
// libuv's threadpool: a request resolves and stats its path in one pool hop
// instead of two (each hop is a wake-up of a pool thread and of the event loop,
// which dominated the cost of a small range; docs/performance.md).
//
// With a descriptor, a position and a buffer, the same task then also preads
// into the buffer: the open-file cache's guess of the first read of a small
// range, which the caller keeps only if the stat shows the cached file is still
// the one at the path. A failed read only means no guess (bytesRead -1).
class ResolveStatWorker : public Napi::AsyncWorker {
 public:
  ResolveStatWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "rangeserve:resolveStat"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)) {}

  void ReadAhead(int fd, int64_t position, Napi::Buffer<uint8_t> buffer) {
    fd_ = fd;
    position_ = position;
    data_ = buffer.Data();
    length_ = buffer.Length();
    buffer_ = Napi::Persistent(buffer.As<Napi::Object>());
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    char* real = realpath(path_.c_str(), nullptr);
    if (real == nullptr) {
      error_ = errno;
      syscall_ = "realpath";
      return;
    }
    real_ = real;
    free(real);
    if (stat(real_.c_str(), &st_) != 0) {
      error_ = errno;
      syscall_ = "stat";
      return;
    }
    if (fd_ >= 0) {
      ssize_t n;
      do {
        n = pread(fd_, data_, length_, static_cast<off_t>(position_));
      } while (n < 0 && errno == EINTR);
      bytes_read_ = n < 0 ? -1 : static_cast<int64_t>(n);
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_ != 0) {
      RejectErrno(deferred_, error_, syscall_);
      return;
    }
    Napi::Object out = StatObject(env, st_);
    out.Set("real", Napi::String::New(env, real_));
    if (fd_ >= 0) out.Set("bytesRead", Napi::Number::New(env, static_cast<double>(bytes_read_)));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  std::string real_;
  struct stat st_ {};
  int error_ = 0;
  const char* syscall_ = "";
  int fd_ = -1;
  int64_t position_ = 0;
  uint8_t* data_ = nullptr;
  size_t length_ = 0;
  int64_t bytes_read_ = -1;
  // Keeps the caller's buffer alive (and its memory in place) while the task runs.
  Napi::ObjectReference buffer_;
};

// ResolveStat implements resolveStat(path[, fd, position, buffer]) -> Promise<{ real,
// kind, size, mtimeNs, dev, ino[, bytesRead] }>; a failure of realpath or stat rejects
// with a Node-style error whose syscall names the step ('realpath' or 'stat').
Napi::Value ResolveStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ReadPath(info, 0, &path)) return env.Undefined();
  bool read_ahead = info.Length() >= 2 && !info[1].IsUndefined();
  int64_t fd = -1;
  int64_t position = 0;
  if (read_ahead) {
    if (!ReadSafeInteger(info, 1, "fd", 0, &fd)) return env.Undefined();
    if (fd > INT32_MAX) {
      Napi::RangeError::New(env, "The value of \"fd\" is out of range. It must be an int32").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!ReadSafeInteger(info, 2, "position", 0, &position)) return env.Undefined();
    if (info.Length() < 4 || !info[3].IsBuffer()) {
      Napi::TypeError::New(env, "The \"buffer\" argument must be a Buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  auto* worker = new ResolveStatWorker(env, std::move(path));
  if (read_ahead) worker->ReadAhead(static_cast<int>(fd), position, info[3].As<Napi::Buffer<uint8_t>>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// OpenStatWorker opens a file read-only and fstats the descriptor in one task on
// libuv's threadpool (fs.open then fs.fstat is two). `flags` are added to O_RDONLY
// and O_CLOEXEC (the caller passes O_NOFOLLOW | O_NONBLOCK). The descriptor is the
// caller's from then on, whatever it is (the caller closes one that is no regular file).
class OpenStatWorker : public Napi::AsyncWorker {
 public:
  OpenStatWorker(Napi::Env env, std::string path, int flags)
      : Napi::AsyncWorker(env, "rangeserve:openStat"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        flags_(flags) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    do {
      fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC | flags_);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) {
      error_ = errno;
      syscall_ = "open";
      return;
    }
    if (fstat(fd_, &st_) != 0) {
      error_ = errno;
      syscall_ = "fstat";
      close(fd_);
      fd_ = -1;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_ != 0) {
      RejectErrno(deferred_, error_, syscall_);
      return;
    }
    Napi::Object out = StatObject(env, st_);
    out.Set("fd", Napi::Number::New(env, fd_));
    deferred_.Resolve(out);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  int flags_;
  int fd_ = -1;
  struct stat st_ {};
  int error_ = 0;
  const char* syscall_ = "";
};

// OpenStat implements openStat(path, flags) -> Promise<{ fd, kind, size, mtimeNs, dev, ino }>.
Napi::Value OpenStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ReadPath(info, 0, &path)) return env.Undefined();
  int64_t flags = 0;
  if (!ReadSafeInteger(info, 1, "flags", 0, &flags)) return env.Undefined();
  if (flags > INT32_MAX) {
    Napi::RangeError::New(env, "The value of \"flags\" is out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new OpenStatWorker(env, std::move(path), static_cast<int>(flags));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("fadvise", Napi::Function::New(env, Fadvise, "fadvise"));
  exports.Set("fadviseAsync", Napi::Function::New(env, FadviseAsync, "fadviseAsync"));
  exports.Set("ioprioSet", Napi::Function::New(env, IoprioSet, "ioprioSet"));
  exports.Set("ioprioGet", Napi::Function::New(env, IoprioGet, "ioprioGet"));
  exports.Set("resolveStat", Napi::Function::New(env, ResolveStat, "resolveStat"));
  exports.Set("openStat", Napi::Function::New(env, OpenStat, "openStat"));
  exports.Set("constants", MakeConstants(env));
  rangeserve_zero_copy::InitZeroCopy(env, exports);
#ifdef __linux__
  exports.Set("supported", Napi::Boolean::New(env, true));
#else
  exports.Set("supported", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(rangeserve_native, Init)
