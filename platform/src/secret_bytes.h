// SecretBytes: key material that is zeroed when it is no longer needed (on Wipe, on
// destruction, and in the old storage when moved from or replaced).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fieldbook::platform {

// Zeroes n bytes in a way the optimiser may not drop as a dead store.
void SecureZero(void* data, size_t n);

class SecretBytes {
 public:
  SecretBytes() = default;
  SecretBytes(const uint8_t* data, size_t n) : bytes_(data, data + n) {}
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.Wipe(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Wipe();
      bytes_ = std::move(other.bytes_);
      other.Wipe();
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { Wipe(); }

  // Zeroes the bytes, then forgets them.
  void Wipe() {
    SecureZero(bytes_.data(), bytes_.size());
    bytes_.clear();
  }

  bool empty() const { return bytes_.empty(); }
  size_t size() const { return bytes_.size(); }
  const uint8_t* data() const { return bytes_.data(); }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace fieldbook::platform
