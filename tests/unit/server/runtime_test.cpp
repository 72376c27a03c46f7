// The plugin runtime across reloads: an instance whose name and fingerprint stay keeps its filter
// (and with it its cache and discovery state); a changed one gets a new filter, started; one gone
// is stopped. Each worker's hold on a filter releases it on that worker when the last one goes.
#include "tollgate/server/runtime.hpp"

#include <gtest/gtest.h>

#include <map>

#include "tollgate/config/plugin_types.hpp"

namespace tollgate::server {
namespace {

struct Counts {
  int made = 0, started = 0, stopped = 0;
  std::vector<unsigned> released;
};
Counts counts;

struct NoteSettings final : filters::PluginSettings {};

class NoteFilter final : public filters::Filter {
 public:
  void start(const filters::StartContext&) override { ++counts.started; }
  void stop() override { ++counts.stopped; }
  void release_worker(unsigned worker) override { counts.released.push_back(worker); }
  boost::asio::awaitable<filters::Verdict> on_request(filters::RequestContext&) const override {
    co_return filters::Verdict::proceed();
  }
};

std::shared_ptr<const filters::PluginSettings> parse_note(const config::Reader& config) {
  config.expect_keys({"note"});
  return std::make_shared<NoteSettings>();
}

std::shared_ptr<filters::Filter> make_note(const filters::PluginSettings&, const std::string&) {
  ++counts.made;
  return std::make_shared<NoteFilter>();
}

const config::PluginTypes note_types{{"note", &parse_note, &make_note}};

std::shared_ptr<const config::GatewayConfig> load(const std::string& plugins) {
  auto result = config::load_config_text(
      "listen: [ { address: 127.0.0.1:0 } ]\n"
      "upstreams: { u: { targets: [ http://127.0.0.1:1 ] } }\n"
      "plugins:\n" +
          plugins + "routes: [ { name: r, upstream: u, plugins: [ a ] } ]\n",
      "gw.yaml", note_types);
  EXPECT_TRUE(result) << result.error().to_string();
  return result ? *result : nullptr;
}

TEST(PluginRuntime, UnchangedInstancesKeepTheirFilterChangedOnesGetANewOne) {
  counts = {};
  PluginRuntime runtime{filters::StartContext{}};
  const std::string a = "  a: { name: note, config: { note: one } }\n";
  const std::string b = "  b: { name: note, config: { note: two } }\n";

  const auto first = runtime.apply(*load(a + b));
  EXPECT_EQ(counts.made, 2);
  EXPECT_EQ(counts.started, 2);
  ASSERT_EQ(first->chains.size(), 1u);
  ASSERT_EQ(first->chains[0].size(), 1u);
  EXPECT_EQ(first->chains[0][0], first->instances[0].get());

  // The same file again: nothing made, started or stopped.
  const auto same = runtime.apply(*load(a + b));
  EXPECT_EQ(same->instances, first->instances);
  EXPECT_EQ(counts.made, 2);
  EXPECT_EQ(counts.stopped, 0);

  // b changes: a new filter for it, the old one stopped; a stays.
  const auto changed = runtime.apply(*load(a + "  b: { name: note, config: { note: three } }\n"));
  EXPECT_EQ(changed->instances[0], first->instances[0]);
  EXPECT_NE(changed->instances[1], first->instances[1]);
  EXPECT_EQ(counts.made, 3);
  EXPECT_EQ(counts.started, 3);
  EXPECT_EQ(counts.stopped, 1);

  // b goes: stopped.
  runtime.apply(*load(a));
  EXPECT_EQ(counts.stopped, 2);
  runtime.stop_all();
  EXPECT_EQ(counts.stopped, 3);
}

TEST(PluginRuntime, NotReadyNamesTheInstancesThatCannotAnswer) {
  PluginRuntime runtime{filters::StartContext{}};
  const auto set = runtime.apply(*load("  a: { name: note, config: { note: one } }\n"));
  EXPECT_TRUE(set->not_ready().empty());
}

TEST(WorkerHold, ReleasesItsWorkerWhenTheLastHolderGoes) {
  counts = {};
  auto filter = std::make_shared<NoteFilter>();
  auto hold = std::make_shared<WorkerHold>(filter, 3);
  auto request_copy = hold;
  hold.reset();
  EXPECT_TRUE(counts.released.empty());
  request_copy.reset();
  EXPECT_EQ(counts.released, std::vector<unsigned>{3});
}

}  // namespace
}  // namespace tollgate::server
