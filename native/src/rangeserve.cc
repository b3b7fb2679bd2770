// rangeserve_native: page-cache and I/O-priority hints for the download server.
//
// Exposes three synchronous functions and a constants object:
//
//   fadvise(fd, offset, length, advice)  -> undefined   posix_fadvise(2)
//   ioprioSet(cls, level)                -> undefined   ioprio_set(2), calling thread
//   ioprioGet()                          -> { class, level, value }   ioprio_get(2), calling thread
//   constants                            -> { POSIX_FADV_*, IOPRIO_CLASS_*, ... }
//   supported                            -> true on Linux, false for the stub build
//
// Every call is synchronous on the calling thread. POSIX_FADV_WILLNEED submits I/O
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

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

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
// every error posix_fadvise(2) and ioprio_set(2)/ioprio_get(2) document, plus a few
// that a kernel may return through them.
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("fadvise", Napi::Function::New(env, Fadvise, "fadvise"));
  exports.Set("ioprioSet", Napi::Function::New(env, IoprioSet, "ioprioSet"));
  exports.Set("ioprioGet", Napi::Function::New(env, IoprioGet, "ioprioGet"));
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
