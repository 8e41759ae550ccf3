// User-facing error checks. Every message starts with the op name, e.g.
//   FG_CHECK(a.dim() == 2, "mm: expected a 2-D tensor, got ", a.dim(), "-D");
// The error kinds map to Python exceptions in bindings/module.cpp.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace fastgrad {

struct RuntimeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct ValueError : std::runtime_error { using std::runtime_error::runtime_error; };
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct IndexError : std::runtime_error { using std::runtime_error::runtime_error; };
struct NotImplementedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <class E, class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw E(str_cat(args...));
}

}  // namespace fastgrad

#define FG_CHECK_KIND(kind, cond, ...)                          \
  do {                                                          \
    if (__builtin_expect(!(cond), 0))                           \
      ::fastgrad::fail<::fastgrad::kind>(__VA_ARGS__);          \
  } while (0)

#define FG_CHECK(cond, ...) FG_CHECK_KIND(RuntimeError, cond, __VA_ARGS__)
#define FG_CHECK_VALUE(cond, ...) FG_CHECK_KIND(ValueError, cond, __VA_ARGS__)
#define FG_CHECK_TYPE(cond, ...) FG_CHECK_KIND(TypeError, cond, __VA_ARGS__)
#define FG_CHECK_INDEX(cond, ...) FG_CHECK_KIND(IndexError, cond, __VA_ARGS__)
