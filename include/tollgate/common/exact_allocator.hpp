// Allocates a handler's operation at its own size. Asio's default allocator recycles blocks per
// thread, so a small wait an idle connection leaves pending would often occupy a block several
// times its size that a request's write freed, for as long as the connection idles.
#pragma once

#include <cstddef>
#include <memory>

namespace tollgate {

template <class T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() noexcept = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  friend bool operator==(ExactAllocator, ExactAllocator) noexcept { return true; }
};

}  // namespace tollgate
