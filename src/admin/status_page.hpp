// The admin listener's status page: one self-contained HTML page (status_page.html, built into the
// binary) that renders /status.json for people and refreshes itself every 2 s.
#pragma once

#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "tollgate/common/asio.hpp"

namespace tollgate::admin {

// The page's HTML, exactly as in status_page.html.
std::string_view status_page_html();

// What the page may do, sent with it: run its own inline script (by hash) and styles, fetch from
// this origin, nothing else. Even if a name or message from status.json reached the page as markup,
// no script or request of its own could run.
std::string_view status_page_policy();

// Answers with the page, as HTML that is never served from a cache.
void serve_status_page(http::response<http::string_body>& response);

}  // namespace tollgate::admin
