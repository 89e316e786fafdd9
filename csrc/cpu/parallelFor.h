// Minimal work distribution over a batch with std::thread: items are claimed one at a time from an atomic
// counter because word images differ a lot in size, so a static split would leave threads idle.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace starnet
{

//! Number of worker threads for `items` work items: `requested` (0 = hardware concurrency), capped by `items`.
inline int32_t resolveThreadCount(int32_t requested, int64_t items)
{
    int64_t n = requested > 0 ? requested : static_cast<int64_t>(std::thread::hardware_concurrency());
    n = std::max<int64_t>(1, std::min<int64_t>(n, items));
    return static_cast<int32_t>(n);
}

//! Calls `body(worker, item)` for every item in [0, items). `body` must not throw: inputs are validated before.
template <typename Body>
void parallelFor(int64_t items, int32_t threads, Body&& body)
{
    if (items <= 0)
    {
        return;
    }
    threads = resolveThreadCount(threads, items);
    if (threads == 1)
    {
        for (int64_t i = 0; i < items; ++i)
        {
            body(0, i);
        }
        return;
    }
    std::atomic<int64_t> next{0};
    auto worker = [&](int32_t id) {
        for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < items;
            i = next.fetch_add(1, std::memory_order_relaxed))
        {
            body(id, i);
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(static_cast<size_t>(threads - 1));
    for (int32_t t = 1; t < threads; ++t)
    {
        pool.emplace_back(worker, t);
    }
    worker(0); // the calling thread works too
    for (auto& th : pool)
    {
        th.join();
    }
}

} // namespace starnet
