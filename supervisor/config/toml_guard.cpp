#include "supervisor/config/toml_guard.hpp"

#include <cstdint>
#include <cstdio>

namespace procpool::supervisor {

namespace {

// Decodes one UTF-8 character at t[i]; 0 for invalid UTF-8 (overlong, surrogate, too big,
// cut short).
std::size_t utf8_char(std::string_view t, std::size_t i, uint32_t* cp) {
  const auto b0 = static_cast<unsigned char>(t[i]);
  std::size_t len = 0;
  uint32_t c = 0, min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) len = 2, c = b0 & 0x1F, min = 0x80;
  else if (b0 >= 0xE0 && b0 <= 0xEF) len = 3, c = b0 & 0x0F, min = 0x800;
  else if (b0 >= 0xF0 && b0 <= 0xF4) len = 4, c = b0 & 0x07, min = 0x10000;
  else return 0;
  if (i + len > t.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(t[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

std::string escape(uint32_t cp) {
  char buf[16];
  if (cp <= 0xFFFF) std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
  else std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(cp));
  return buf;
}

}  // namespace

std::string ascii_for_tomlpp(std::string_view t, std::size_t* bad_offset, std::string* why) {
  enum class In { Code, Comment, Basic, Literal, MultiBasic, MultiLiteral } in = In::Code;
  const std::size_t n = t.size();
  std::string out;
  out.reserve(n + n / 8);
  auto at = [&](std::size_t i, std::string_view s) { return t.substr(i, s.size()) == s; };
  auto refuse = [&](std::size_t i, const char* message) {
    *bad_offset = i;
    *why = message;
    return std::string();
  };
  for (std::size_t i = 0; i < n;) {
    const auto c = static_cast<unsigned char>(t[i]);
    if (c >= 0x80) {
      uint32_t cp = 0;
      const std::size_t len = utf8_char(t, i, &cp);
      if (len == 0) return refuse(i, "invalid UTF-8");
      if (in == In::Basic || in == In::MultiBasic) {
        out += escape(cp);
      } else if (in == In::Comment) {
        out += '?';
      } else {
        return refuse(i, in == In::Code ? "a non-ASCII character outside a string or comment"
                                        : "a non-ASCII character in a 'literal' string: use a \"basic\" string");
      }
      i += len;
      continue;
    }
    std::size_t take = 1;  // ASCII bytes pass as they are; only the state is tracked
    switch (in) {
      case In::Code:
        if (c == '#') in = In::Comment;
        else if (at(i, R"(""")")) in = In::MultiBasic, take = 3;
        else if (at(i, "'''")) in = In::MultiLiteral, take = 3;
        else if (c == '"') in = In::Basic;
        else if (c == '\'') in = In::Literal;
        break;
      case In::Comment:
        if (c == '\n') in = In::Code;
        break;
      case In::Basic:
      case In::MultiBasic:
        if (c == '\\' && i + 1 < n) {
          if (static_cast<unsigned char>(t[i + 1]) >= 0x80) return refuse(i + 1, "a non-ASCII character after a backslash");
          take = 2;  // an escape: the next byte cannot end the string
        } else if (in == In::Basic && (c == '"' || c == '\n')) {
          in = In::Code;
        } else if (in == In::MultiBasic && at(i, R"(""")")) {
          in = In::Code;
          take = 3;
          while (take < 5 && i + take < n && t[i + take] == '"') ++take;  // quotes just before the end
        }
        break;
      case In::Literal:
        if (c == '\'' || c == '\n') in = In::Code;
        break;
      case In::MultiLiteral:
        if (at(i, "'''")) {
          in = In::Code;
          take = 3;
          while (take < 5 && i + take < n && t[i + take] == '\'') ++take;
        }
        break;
    }
    out.append(t.substr(i, take));
    i += take;
  }
  return out;
}

std::string toml_basic_string(std::string_view v) {
  std::string out = "\"";
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7F) {
      out += escape(c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace procpool::supervisor
