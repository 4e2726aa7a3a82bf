#include "child/kinds/reduce.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace procpool::kinds {

namespace {

std::string add_decimal(const std::string& a, const std::string& b) {
  std::string out;
  int carry = 0;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
    const int da = i < a.size() ? a[a.size() - 1 - i] - '0' : 0;
    const int db = i < b.size() ? b[b.size() - 1 - i] - '0' : 0;
    out += static_cast<char>('0' + (da + db + carry) % 10);
    carry = (da + db + carry) / 10;
  }
  while (out.size() > 1 && out.back() == '0') out.pop_back();
  std::reverse(out.begin(), out.end());
  return out.empty() ? "0" : out;
}

class DecimalSum final : public Reducer {
 public:
  void add(std::string_view output) override {
    if (!output.empty() && output.find_first_not_of("0123456789") == std::string_view::npos)
      total_ = add_decimal(total_, std::string(output));
  }
  std::string finish() override { return total_ + "\n"; }

 private:
  std::string total_ = "0";
};

class WordMerge final : public Reducer {
 public:
  explicit WordMerge(unsigned top) : top_(top) {}
  void add(std::string_view output) override {
    const auto j = nlohmann::json::parse(output, nullptr, false);
    if (!j.is_object()) return;
    for (const auto& [word, n] : j.items())
      if (n.is_number_unsigned()) counts_[word] += n.get<uint64_t>();
  }
  std::string finish() override {
    std::vector<std::pair<std::string, uint64_t>> ranked(counts_.begin(), counts_.end());
    const std::size_t n = std::min<std::size_t>(top_, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n), ranked.end(),
                      [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    uint64_t total = 0;
    for (const auto& [w, c] : counts_) total += c;
    std::string out = std::to_string(total) + " words, " + std::to_string(counts_.size()) + " distinct\n";
    for (std::size_t i = 0; i < n; ++i) out += std::to_string(ranked[i].second) + " " + ranked[i].first + "\n";
    return out;
  }

 private:
  unsigned top_;
  std::map<std::string, uint64_t> counts_;
};

}  // namespace

std::unique_ptr<Reducer> decimal_sum() { return std::make_unique<DecimalSum>(); }

std::unique_ptr<Reducer> word_merge(unsigned top) { return std::make_unique<WordMerge>(top); }

std::vector<std::string> split_range(uint64_t n, uint64_t chunks) {
  chunks = std::max<uint64_t>(1, std::min(chunks, std::max<uint64_t>(n, 1)));
  std::vector<std::string> out;
  const uint64_t step = n / chunks, extra = n % chunks;
  uint64_t begin = 0;
  for (uint64_t i = 0; i < chunks; ++i) {
    const uint64_t end = begin + step + (i < extra ? 1 : 0);
    out.push_back(std::to_string(begin) + " " + std::to_string(end));
    begin = end;
  }
  return out;
}

}  // namespace procpool::kinds
