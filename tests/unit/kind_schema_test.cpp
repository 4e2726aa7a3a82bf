// A kind's option schema (ipc/kind_schema.hpp): one spelling per type, errors that name
// the kind and the option, defaults filled in canonical, and a registry that refuses a
// flag that would mean two things.
#include <gtest/gtest.h>

#include "child/task_api.hpp"

using namespace procpool;

namespace {
std::string error_of(const OptionSpec& spec, const std::string& value) {
  try {
    canonical("k", spec, value);
  } catch (const OptionError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(KindSchema, EachTypeHasOneSpellingAndACanonicalForm) {
  const auto flag = opt::boolean("b", false, "");
  EXPECT_EQ(canonical("k", flag, "true"), "true");
  EXPECT_EQ(canonical("k", flag, "false"), "false");
  for (const char* no : {"yes", "1", "on", "True", ""}) EXPECT_THROW(canonical("k", flag, no), OptionError) << no;

  const auto n = opt::integer("n", "3", -5, 100, "");
  EXPECT_EQ(canonical("k", n, "-5"), "-5");
  EXPECT_EQ(error_of(n, "101"), "k option 'n' must be an integer from -5 to 100, not '101'");
  EXPECT_THROW(canonical("k", n, "9x"), OptionError);

  const auto size = opt::size("s", "1G", 0, int64_t{1} << 40, "");
  EXPECT_EQ(canonical("k", size, "512K"), "524288");
  EXPECT_EQ(canonical("k", size, "0"), "0");
  EXPECT_EQ(canonical("k", size, canonical("k", size, "2G")), "2147483648");  // canonical reads back
  EXPECT_THROW(canonical("k", size, "lots"), OptionError);

  const auto secs = opt::seconds("d", "30", 0.001, 3600, "");
  EXPECT_EQ(canonical("k", secs, "2.5"), "2.5");
  EXPECT_EQ(canonical("k", secs, "2.5s"), "2.5");
  EXPECT_EQ(error_of(secs, "0"), "k option 'd' must be seconds: a number from 0.001 to 3600, not '0'");

  const auto pick = opt::choice("e", "a", {"a", "b-c"}, "");
  EXPECT_EQ(canonical("k", pick, "b-c"), "b-c");
  EXPECT_EQ(error_of(pick, "c"), "k option 'e' must be one of a, b-c, not 'c'");

  const auto items = opt::list("l", "");
  EXPECT_EQ(canonical("k", items, R"([ "x", "y" ])"), R"(["x","y"])");
  EXPECT_THROW(canonical("k", items, R"(["x", 3])"), OptionError);
  EXPECT_THROW(canonical("k", opt::text("t", "", ""), "two\nlines"), OptionError);
}

TEST(KindSchema, CheckedFillsDefaultsAndRefusesUnknownOptions) {
  KindSchema schema{"k", "", {opt::integer("n", "3", 0, 9, ""), opt::size("s", "1M", 0, 0, ""), opt::text("t", "", "")}, {}};
  const KindOptions filled = schema.checked({});
  EXPECT_EQ(filled.integer("n"), 3);
  EXPECT_EQ(filled.integer("s"), 1 << 20);  // the default is canonical too
  EXPECT_FALSE(filled.has("t"));            // no default: unset
  KindOptions given;
  given.set("m", "1");
  try {
    schema.checked(given);
    FAIL() << "an unknown option was accepted";
  } catch (const OptionError& e) {
    EXPECT_STREQ(e.what(), "k has no option 'm' (its options: n, s, t)");
  }
}

TEST(KindSchema, EnvironmentIsExpandedOnlyWhenAsked) {
  const auto header = opt::list("header", "").with_env();
  setenv("PROCPOOL_TEST_TOKEN", "s3cret", 1);
  EXPECT_EQ(expand_environment("k", header, "Authorization: ${PROCPOOL_TEST_TOKEN}"), "Authorization: s3cret");
  EXPECT_THROW(expand_environment("k", header, "${PROCPOOL_TEST_UNSET_VARIABLE}"), OptionError);
  EXPECT_THROW(expand_environment("k", header, "${OPEN"), OptionError);
}

TEST(KindRegistry, BuiltinKindsCheckTheirOptionsByName) {
  KindRegistry registry;
  register_builtin_kinds(registry);
  KindOptions o;
  o.set("quality", "101");
  try {
    registry.find("thumbnail")->check(o);
    FAIL() << "quality 101 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "thumbnail option 'quality' must be an integer from 1 to 100, not '101'");
  }
  const KindOptions d = registry.find("download")->check({});
  EXPECT_EQ(d.integer("max-size"), int64_t{1} << 30);
  EXPECT_EQ(d.milliseconds("connect-timeout"), 10'000);
  // Run-side options (how `run` splits or prints) never travel to the workers.
  const KindSchema sum = registry.find("sum-squares")->schema();
  KindOptions n;
  n.set("n", "100");
  EXPECT_TRUE(sum.task_options(sum.checked(n)).empty());
}

TEST(KindRegistry, RefusesAnOptionThatIsAFlagInOneKindAndTakesAValueInAnother) {
  KindRegistry registry;
  auto none = [](const KindOptions&) -> std::unique_ptr<TaskKind> { return nullptr; };
  registry.add({"a", "", none, {opt::boolean("x", false, "")}});
  registry.add({"b", "", none, {opt::boolean("x", true, "")}});  // the same shape: fine
  EXPECT_THROW(registry.add({"c", "", none, {opt::integer("x", "1", 0, 9, "")}}), std::logic_error);
}
