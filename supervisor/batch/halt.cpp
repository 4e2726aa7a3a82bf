#include "supervisor/batch/halt.hpp"

#include <cstdlib>

namespace procpool::supervisor {

namespace {

// "N" or "N%", N from 1 (a percentage up to 100).
bool parse_amount(const std::string& text, HaltPolicy* p) {
  std::string digits = text;
  p->percent = !digits.empty() && digits.back() == '%';
  if (p->percent) digits.pop_back();
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  p->n = static_cast<unsigned>(std::strtoul(digits.c_str(), nullptr, 10));
  return p->n >= 1 && (!p->percent || p->n <= 100);
}

}  // namespace

bool HaltPolicy::reached(uint64_t failed, uint64_t succeeded, uint64_t total) const {
  if (when == When::never) return false;
  const uint64_t counted = count == Count::fail ? failed : count == Count::success ? succeeded : failed + succeeded;
  if (counted == 0) return false;
  return percent ? counted * 100 >= uint64_t{n} * total : counted >= n;
}

std::string HaltPolicy::text() const {
  if (when == When::never) return "never";
  return std::string(when == When::now ? "now," : "soon,") +
         (count == Count::fail ? "fail=" : count == Count::success ? "success=" : "done=") + std::to_string(n) +
         (percent ? "%" : "");
}

std::optional<HaltPolicy> parse_halt(const std::string& text) {
  HaltPolicy p;
  if (text == "never" || text == "0") return p;
  if (text == "1" || text == "2" || text == "-1" || text == "-2") {
    p.when = text.back() == '1' ? HaltPolicy::When::soon : HaltPolicy::When::now;
    p.count = text[0] == '-' ? HaltPolicy::Count::success : HaltPolicy::Count::fail;
    return p;
  }
  if (text.size() > 1 && text.back() == '%' && text.find(',') == std::string::npos) {  // old "N%": soon,fail=N%
    p.when = HaltPolicy::When::soon;
    if (!parse_amount(text, &p)) return std::nullopt;
    return p;
  }
  const std::size_t comma = text.find(','), eq = text.find('=');
  if (comma == std::string::npos || eq == std::string::npos || eq < comma) return std::nullopt;
  const std::string when = text.substr(0, comma), what = text.substr(comma + 1, eq - comma - 1);
  if (when == "now") p.when = HaltPolicy::When::now;
  else if (when == "soon") p.when = HaltPolicy::When::soon;
  else return std::nullopt;
  if (what == "fail") p.count = HaltPolicy::Count::fail;
  else if (what == "success") p.count = HaltPolicy::Count::success;
  else if (what == "done") p.count = HaltPolicy::Count::done;
  else return std::nullopt;
  if (!parse_amount(text.substr(eq + 1), &p)) return std::nullopt;
  return p;
}

}  // namespace procpool::supervisor
