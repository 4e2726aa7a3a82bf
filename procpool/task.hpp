#pragma once
// Task kinds defined in your own program, and the codecs that carry typed inputs and
// outputs as bytes.
//
//   struct Range { uint64_t begin, end; };
//   PROCPOOL_TASK(sum_squares, [](const Range& r) { ... return total; });
//
//   int main(int argc, char** argv) {
//     procpool::init(argc, argv);  // in a child this runs tasks and never returns
//     procpool::Pool pool;
//     ...
//   }
//
// Children are this same executable re-executed in child mode (as Python's "spawn" start
// method does): init() must be the first thing main() does, and tasks must be registered
// at namespace scope (PROCPOOL_TASK), so that a child knows them before it takes work.
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "child/task_api.hpp"

namespace procpool {

// Bytes that do not decode to the expected type (wrong size, bad JSON).
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How a T travels as bytes. Provided: std::string (as is), nlohmann::json (its text), and
// any trivially copyable type (its object representation, same machine and build).
template <typename T, typename = void>
struct Codec {
  static_assert(sizeof(T) == 0, "no procpool::Codec for this type: use a trivially copyable struct, "
                                "std::string or nlohmann::json, or specialise procpool::Codec");
};

template <>
struct Codec<std::string> {
  static std::string encode(const std::string& v) { return v; }
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
  static constexpr bool is_json = false;
};

template <>
struct Codec<nlohmann::json> {
  static std::string encode(const nlohmann::json& v) { return v.dump(); }
  static nlohmann::json decode(std::string_view bytes) {
    auto v = nlohmann::json::parse(bytes, nullptr, false);
    if (v.is_discarded()) throw DecodeError("not valid JSON");
    return v;
  }
  static constexpr bool is_json = true;
};

template <typename T>
struct Codec<T, std::enable_if_t<std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>>> {
  static std::string encode(const T& v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }
  static T decode(std::string_view bytes) {
    if (bytes.size() != sizeof(T))
      throw DecodeError("expected " + std::to_string(sizeof(T)) + " bytes, got " + std::to_string(bytes.size()));
    T v;
    std::memcpy(&v, bytes.data(), sizeof v);
    return v;
  }
  static constexpr bool is_json = false;
};

// The kinds of this program (PROCPOOL_TASK), shared by the parent and its children.
KindRegistry& program_kinds();

// Registers fn, taking In and returning Out, as a kind named `name`.
template <typename In, typename Out>
void register_task(const std::string& name, std::function<Out(const In&)> fn) {
  class FunctionKind final : public TaskKind {
   public:
    explicit FunctionKind(std::function<Out(const In&)> f) : fn_(std::move(f)) {}
    void run(std::string_view input, TaskOutput& out) override {
      out.data = Codec<Out>::encode(fn_(Codec<In>::decode(input)));
      out.output_is_json = Codec<Out>::is_json;
    }

   private:
    std::function<Out(const In&)> fn_;
  };
  program_kinds().add({name, "a task of this program",
                       [fn](const KindOptions&) { return std::make_unique<FunctionKind>(fn); }});
}

namespace detail {
template <typename F>
struct callable : callable<decltype(&F::operator())> {};
template <typename C, typename R, typename A>
struct callable<R (C::*)(A) const> {
  using In = std::decay_t<A>;
  using Out = R;
};
template <typename C, typename R, typename A>
struct callable<R (C::*)(A)> : callable<R (C::*)(A) const> {};
template <typename R, typename A>
struct callable<R (*)(A)> {
  using In = std::decay_t<A>;
  using Out = R;
};
}  // namespace detail

struct TaskRegistrar {
  template <typename F>
  TaskRegistrar(const char* name, F fn) {
    using Traits = detail::callable<std::decay_t<F>>;
    register_task<typename Traits::In, typename Traits::Out>(name, std::function<typename Traits::Out(const typename Traits::In&)>(fn));
  }
};

// At the top of main(): in a child started by a Pool, runs the worker loop and exits the
// process; otherwise returns at once.
void init(int argc, char** argv);

}  // namespace procpool

// Registers a task kind of this program at namespace scope: PROCPOOL_TASK(name, callable)
// where callable takes one argument (const In&) and returns an Out (see Codec).
#define PROCPOOL_TASK(name, ...) \
  static const ::procpool::TaskRegistrar procpool_task_registrar_##name(#name, __VA_ARGS__)
