// Comparing heads written two ways (a flat head, Beast's field tree) field by field.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/http/headers.hpp"

namespace tollgate::http_io {

// The lines of `fields` ("Name: value\r\n" each), grouped by name in any case, in their order
// within a name: Beast's field tree groups a name's fields where the flat head keeps their order,
// and only the order within a name means anything (RFC 9110 §5.3).
inline std::vector<std::string> grouped_field_lines(std::string_view fields) {
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < fields.size();) {
    const std::size_t end = fields.find("\r\n", at);
    lines.emplace_back(fields.substr(at, end - at));
    at = end + 2;
  }
  const auto name = [](const std::string& line) {
    std::string n = line.substr(0, line.find(':'));
    for (char& c : n) c = ascii_lower(c);
    return n;
  };
  std::stable_sort(lines.begin(), lines.end(),
                   [&](const std::string& a, const std::string& b) { return name(a) < name(b); });
  return lines;
}

// The same for a whole head: its start line and final empty line left out.
inline std::vector<std::string> grouped_field_lines_of_head(std::string_view head) {
  const std::size_t start = head.find("\r\n") + 2;
  return grouped_field_lines(head.substr(start, head.size() - start - 2));
}

}  // namespace tollgate::http_io
