#pragma once
// Task kinds defined in your own program, and the codecs that carry typed inputs and
// outputs as bytes.
//
//   struct Range { uint64_t begin, end; };
//   PROCPOOL_TASK(sum_squares, [](const Range& r) { ... return total; });
//   PROCPOOL_TASK(add, [](int a, int b) { return a + b; });     // starmap, submit(add, 1, 2)
//
//   int main(int argc, char** argv) {
//     procpool::init(argc, argv);  // in a child this runs tasks and never returns
//     procpool::Pool pool;
//     uint64_t total = pool.submit(sum_squares, {0, 1000}).get();
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
#include <tuple>
#include <type_traits>
#include <vector>

#include "child/task_api.hpp"
#include "ipc/chunk.hpp"
#include "ipc/records.hpp"

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
  static constexpr bool raw = true;  // the bytes are the object (see detail::raw_codec)
  static T decode(std::string_view bytes) {
    if (bytes.size() != sizeof(T))
      throw DecodeError("expected " + std::to_string(sizeof(T)) + " bytes, got " + std::to_string(bytes.size()));
    T v;
    std::memcpy(&v, bytes.data(), sizeof v);
    return v;
  }
  static constexpr bool is_json = false;
};

namespace detail {
// [u32 length][bytes] parts: how the values of a tuple or of a vector of non-trivial
// values travel. The reader checks each length against what is left (bytes from another
// process).
inline void append_part(std::string& out, std::string_view bytes) {
  const auto len = static_cast<uint32_t>(bytes.size());
  out.append(reinterpret_cast<const char*>(&len), sizeof len);
  out.append(bytes);
}
inline std::string_view take_part(std::string_view& bytes) {
  uint32_t len = 0;
  if (bytes.size() < sizeof len) throw DecodeError("truncated value");
  std::memcpy(&len, bytes.data(), sizeof len);
  bytes.remove_prefix(sizeof len);
  if (len > bytes.size()) throw DecodeError("truncated value");
  const std::string_view part = bytes.substr(0, len);
  bytes.remove_prefix(len);
  return part;
}
}  // namespace detail

// A tuple (a task of several arguments, starmap): each value by its own Codec.
template <typename... Ts>
struct Codec<std::tuple<Ts...>, std::enable_if_t<!std::is_trivially_copyable_v<std::tuple<Ts...>>>> {
  static std::string encode(const std::tuple<Ts...>& v) {
    std::string out;
    std::apply([&](const Ts&... x) { (detail::append_part(out, Codec<Ts>::encode(x)), ...); }, v);
    return out;
  }
  static std::tuple<Ts...> decode(std::string_view bytes) {
    // Braced: the parts are taken left to right.
    std::tuple<Ts...> v{Codec<Ts>::decode(detail::take_part(bytes))...};
    if (!bytes.empty()) throw DecodeError("bytes left after the last value");
    return v;
  }
  static constexpr bool is_json = false;
};

// A vector: of trivially copyable values as one block, of others each by its Codec.
template <typename T>
struct Codec<std::vector<T>> {
  static std::string encode(const std::vector<T>& v) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (v.empty()) return {};  // data() may be null: no pointer arithmetic or copy from it
      return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    } else {
      std::string out;
      for (const T& x : v) detail::append_part(out, Codec<T>::encode(x));
      return out;
    }
  }
  static std::vector<T> decode(std::string_view bytes) {
    std::vector<T> v;
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (bytes.size() % sizeof(T) != 0)
        throw DecodeError(std::to_string(bytes.size()) + " bytes is not a whole number of " + std::to_string(sizeof(T)) + "-byte values");
      v.resize(bytes.size() / sizeof(T));
      if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());  // (an empty one's data() may be null)
    } else {
      while (!bytes.empty()) v.push_back(Codec<T>::decode(detail::take_part(bytes)));
    }
    return v;
  }
  static constexpr bool is_json = false;
};

// The kinds of this program (PROCPOOL_TASK), shared by the parent and its children.
KindRegistry& program_kinds();

namespace detail {
// True for the types whose Codec is the built-in one for trivially copyable types (their
// bytes as they are), so that a chunk can carry them without a string each.
template <typename T, typename = void>
struct raw_codec : std::false_type {};
template <typename T>
struct raw_codec<T, std::void_t<decltype(Codec<T>::raw)>> : std::bool_constant<Codec<T>::raw> {};

// A task kind over a callable taking const In& and returning Out.
template <typename In, typename Out, typename Fn>
class FunctionKind final : public TaskKind {
 public:
  explicit FunctionKind(Fn fn) : fn_(std::move(fn)) {}
  void run(std::string_view input, TaskOutput& out) override {
    out.data = Codec<Out>::encode(fn_(Codec<In>::decode(input)));
    out.output_is_json = Codec<Out>::is_json;
  }
  // The whole chunk in one loop: each output appended where it is made.
  bool run_chunk(std::string_view chunk, std::string& outputs) override {
    constexpr uint8_t flags = Codec<Out>::is_json ? ipc::kResultOutputIsJson : 0;
    return ipc::for_each_chunk_input(chunk, [&](std::string_view input) {
      try {
        const Out out = fn_(Codec<In>::decode(input));
        if constexpr (raw_codec<Out>::value) {
          ipc::append_chunk_output(outputs, true, flags, std::string_view(reinterpret_cast<const char*>(&out), sizeof out));
        } else {
          ipc::append_chunk_output(outputs, true, flags, Codec<Out>::encode(out));
        }
      } catch (const std::exception& e) {
        ipc::append_chunk_output(outputs, false, 0, e.what());
      } catch (...) {
        ipc::append_chunk_output(outputs, false, 0, "task threw a non-standard exception");
      }
    });
  }

 private:
  Fn fn_;
};

template <typename In, typename Out, typename Fn>
void register_callable(const std::string& name, Fn fn) {
  program_kinds().add({name, "a task of this program",
                       [fn](const KindOptions&) { return std::make_unique<FunctionKind<In, Out, Fn>>(fn); }});
}
}  // namespace detail

// Registers fn, taking In and returning Out, as a kind named `name`.
template <typename In, typename Out>
void register_task(const std::string& name, std::function<Out(const In&)> fn) {
  detail::register_callable<In, Out>(name, std::move(fn));
}

// A task kind of this program, as PROCPOOL_TASK names it: what Pool::submit(task, in),
// map(task, inputs), imap and starmap take, typed by its input and output.
template <typename In, typename Out>
struct Task {
  using input_type = In;
  using output_type = Out;
  const char* name;  // the kind's name (the macro's argument, a string literal)
};

namespace detail {
// The input and output of a callable: a callable of one argument takes that, one of
// several (or none) a std::tuple of them (starmap's inputs).
template <typename R, typename... A>
struct signature {
  using Out = R;
  static constexpr bool spread = sizeof...(A) != 1;
  using In = typename std::conditional_t<spread, std::type_identity<std::tuple<std::decay_t<A>...>>,
                                         std::tuple_element<0, std::tuple<std::decay_t<A>..., int>>>::type;
};
template <typename F>
struct callable : callable<decltype(&F::operator())> {};
template <typename C, typename R, typename... A>
struct callable<R (C::*)(A...) const> : signature<R, A...> {};
template <typename C, typename R, typename... A>
struct callable<R (C::*)(A...)> : signature<R, A...> {};
template <typename R, typename... A>
struct callable<R (*)(A...)> : signature<R, A...> {};
template <typename R, typename... A>
struct callable<R(A...)> : signature<R, A...> {};
}  // namespace detail

// Registers fn as a kind named `name` (PROCPOOL_TASK does this at namespace scope) and
// returns its handle.
template <typename F>
auto make_task(const char* name, F fn) {
  using Traits = detail::callable<std::decay_t<F>>;
  using In = typename Traits::In;
  using Out = typename Traits::Out;
  static_assert(!std::is_void_v<Out>, "a task must return a value (its result travels back)");
  if constexpr (Traits::spread) {
    detail::register_callable<In, Out>(name, [fn](const In& args) { return std::apply(fn, args); });
  } else {
    detail::register_callable<In, Out>(name, fn);
  }
  return Task<In, Out>{name};
}

// At the top of main(): in a child started by a Pool, runs the worker loop and exits the
// process; otherwise returns at once.
void init(int argc, char** argv);

}  // namespace procpool

// Registers a task kind of this program at namespace scope and names its handle:
//   PROCPOOL_TASK(name, callable)
// where callable takes one argument (const In&), or several (starmap, submit(task, a, b)),
// and returns an Out; each travels by its Codec. `name` is then a procpool::Task<In, Out>
// for Pool::submit(name, ...) (typed), and "name" the kind for the string API.
#define PROCPOOL_TASK(name, ...) \
  [[maybe_unused]] static const auto name = ::procpool::make_task(#name, __VA_ARGS__)
