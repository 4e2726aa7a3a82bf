// The pure parts of downloading: names from URLs, content types, Retry-After, backoff.
#include <gtest/gtest.h>

#include "child/kinds/http_curl.hpp"
#include "child/kinds/media_types.hpp"
#include "child/kinds/url_names.hpp"
#include "child/kinds/links.hpp"

using namespace procpool::kinds;

TEST(SafeFileName, TakesTheLastSegmentDecoded) {
  EXPECT_EQ(safe_file_name("/a/b/photo.jpg"), "photo.jpg");
  EXPECT_EQ(safe_file_name("/a/b/photo.jpg?x=1#f"), "photo.jpg");
  EXPECT_EQ(safe_file_name("/gallery/My%20Cat.png"), "My Cat.png");
  EXPECT_EQ(safe_file_name("/dir/"), "dir");
  EXPECT_EQ(safe_file_name("/caf%C3%A9.jpg"), "caf\xC3\xA9.jpg");  // UTF-8 kept
}

TEST(SafeFileName, NeverLeavesTheFolderOrHides) {
  EXPECT_EQ(safe_file_name("/..%2F..%2Fetc%2Fpasswd"), "_.._etc_passwd");
  EXPECT_EQ(safe_file_name("/%2e%2e"), "download");
  EXPECT_EQ(safe_file_name("/.."), "download");
  EXPECT_EQ(safe_file_name("/."), "download");
  EXPECT_EQ(safe_file_name(""), "download");
  EXPECT_EQ(safe_file_name("/"), "download");
  EXPECT_EQ(safe_file_name("/.bashrc"), "bashrc");
  EXPECT_EQ(safe_file_name("/a%5Cb"), "a_b");         // backslash
  EXPECT_EQ(safe_file_name("/a%0Ab%00c%7F"), "a_b_c_");  // control bytes
  EXPECT_EQ(safe_file_name("/bad%FF%C0%AFutf8"), "bad___utf8");  // invalid and overlong UTF-8
}

TEST(SafeFileName, LongNamesAreCutKeepingTheExtensionAndWholeCharacters) {
  const std::string name = safe_file_name("/" + std::string(300, 'x') + ".jpeg");
  EXPECT_EQ(name, std::string(kMaxNameBytes - 5, 'x') + ".jpeg");
  std::string accents;
  for (int i = 0; i < 150; ++i) accents += "%C3%A9";  // 300 bytes of e-acute
  const std::string cut = safe_file_name("/" + accents);
  EXPECT_LE(cut.size(), kMaxNameBytes);
  EXPECT_EQ(cut.size() % 2, 0u);  // no half character
}

TEST(NumberedName, GoesBeforeTheExtension) {
  EXPECT_EQ(numbered_name("a.jpg", 1), "a-1.jpg");
  EXPECT_EQ(numbered_name("a.tar.gz", 2), "a.tar-2.gz");
  EXPECT_EQ(numbered_name("README", 3), "README-3");
}

TEST(ContentType, MatchesMediaTypesAndWildcards) {
  const auto accept = split_list("image/jpeg, Image/PNG");
  EXPECT_TRUE(media_type_accepted("image/jpeg", accept));
  EXPECT_TRUE(media_type_accepted("IMAGE/PNG; charset=binary", accept));
  EXPECT_FALSE(media_type_accepted("text/html; charset=utf-8", accept));
  EXPECT_FALSE(media_type_accepted("", accept));
  EXPECT_TRUE(media_type_accepted("image/webp", split_list("image/*")));
  EXPECT_FALSE(media_type_accepted("imagex/webp", split_list("image/*")));
  EXPECT_TRUE(media_type_accepted("anything/at-all", {}));
}

TEST(RetryAfter, SecondsOrAnHttpDate) {
  EXPECT_EQ(parse_retry_after_ms("120", 0), 120'000);
  EXPECT_EQ(parse_retry_after_ms(" 0 ", 0), 0);
  EXPECT_EQ(parse_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10'000);
  EXPECT_EQ(parse_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);  // past
  EXPECT_FALSE(parse_retry_after_ms("soon", 0).has_value());
  EXPECT_FALSE(parse_retry_after_ms("", 0).has_value());
  EXPECT_FALSE(parse_retry_after_ms("-5", 0).has_value());
}

TEST(Backoff, DoublesWithJitterUpToTheCap) {
  for (int i = 0; i < 50; ++i) {
    const int64_t first = backoff_ms(1, 60'000), third = backoff_ms(3, 60'000), capped = backoff_ms(30, 5'000);
    EXPECT_GE(first, 200);
    EXPECT_LE(first, 300);
    EXPECT_GE(third, 800);
    EXPECT_LE(third, 1200);
    EXPECT_GE(capped, 4000);
    EXPECT_LE(capped, 6000);
  }
}

TEST(Retryable, StatusesAndErrors) {
  for (long s : {408L, 429L, 500L, 502L, 503L, 504L}) EXPECT_TRUE(retryable_status(s)) << s;
  for (long s : {400L, 401L, 403L, 404L, 410L}) EXPECT_FALSE(retryable_status(s)) << s;
  EXPECT_TRUE(retryable_error(CURLE_COULDNT_CONNECT));
  EXPECT_TRUE(retryable_error(CURLE_PARTIAL_FILE));
  EXPECT_FALSE(retryable_error(CURLE_UNSUPPORTED_PROTOCOL));
  EXPECT_FALSE(retryable_error(CURLE_TOO_MANY_REDIRECTS));
}

TEST(HttpUrl, OnlyHttpAndHttpsWithAHost) {
  EXPECT_TRUE(is_http_url("http://example.com/a.jpg"));
  EXPECT_TRUE(is_http_url("https://127.0.0.1:8080/"));
  EXPECT_FALSE(is_http_url("file:///etc/passwd"));
  EXPECT_FALSE(is_http_url("ftp://example.com/a"));
  EXPECT_FALSE(is_http_url("example.com/a.jpg"));
  EXPECT_FALSE(is_http_url(""));
}

TEST(Links, FollowsThePathAndFiltersByType) {
  using procpool::kinds::extract_links;
  procpool::kinds::LinkQuery q;
  q.accept = split_list("image/jpeg,image/png");
  const auto links = extract_links(R"({"data": [{"link": "a", "type": "image/jpeg"}, {"link": "b", "type": "text/html"},
      {"link": "c"}, {"link": 5, "type": "image/png"}, {"nolink": 1}], "success": true})", q);
  EXPECT_EQ(links.urls, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(links.filtered, 1u);
  EXPECT_EQ(links.invalid, 1u);
  q.path = "result.images[].src.url";
  EXPECT_EQ(extract_links(R"({"result": {"images": [{"src": {"url": "x"}}, {"src": {"url": "y"}}]}})", q).urls,
            (std::vector<std::string>{"x", "y"}));
  q.path = "urls[]";
  EXPECT_EQ(extract_links(R"({"urls": ["p", "q", 3]})", q).urls, (std::vector<std::string>{"p", "q"}));
  q.path = "data[].link";
  EXPECT_THROW(extract_links("{\"data\": [", q), std::runtime_error);
  EXPECT_THROW(extract_links("{\"other\": []}", q), std::runtime_error);
  EXPECT_THROW(extract_links("[1, 2]", q), std::runtime_error);
  EXPECT_THROW(extract_links("666666666666e666", q), std::runtime_error);  // found by fuzz_links: out of range
  q.path = "data[.link";
  EXPECT_THROW(extract_links("{}", q), std::invalid_argument);
  q.path = "";
  EXPECT_THROW(extract_links("{}", q), std::invalid_argument);
}
