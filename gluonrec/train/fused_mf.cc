// gluonrec's fused training operator for the factorisation models (mf, biased_mf, nnmf).
//
// One call trains on a chunk of ratings, one rating at a time (LIBMF-style stochastic
// updates), mutating the Gluon model's own parameter arrays in place:
//
//   gluonrec_mf_update(user, item, label, P, Q, bu, bi, mu, hP, hQ, hbu, hbi, hmu,
//                      biased=0|1, nonneg=0|1, adagrad=0|1, lr, reg, eps, threads)
//     -> (1,) float32: the sum over the chunk of e^2, e = prediction - label, each
//        computed just before that rating's update (the generic path's training loss).
//
// The objective per rating is the generic path's (gluonrec/train/objective.py):
//   e^2 + reg * (|p_u|^2 + |q_i|^2 + b_u^2 + b_i^2)        (no penalty on mu)
// and its exact gradient is applied: SGD w -= lr * g, or Adagrad h += g^2,
// w -= lr * g / sqrt(h + eps) (MXNet's dense Adagrad). nnmf projects p_u, q_i onto >= 0
// after each update. h* are the Adagrad accumulators (unused by SGD, any shape).
//
// Threads: the chunk is cut into a threads x threads grid of blocks, keeping the
// chunk's order inside a block: rating (u, i) is in block ((u / 16) % T, (i / 16) % T).
// Runs of 16 ids fill a 64-byte cache line of a bias table, so two threads never write
// to one line (with u % T they did, and two threads ran slower than one). In round r thread t trains block
// (t, (t + r) % T): blocks of one round share no user and no item row, so the result is
// that of the sequential order "round by round, block by block" (Chin et al., "A Fast
// Parallel SGD for Matrix Factorization in Shared Memory Systems", 2013) and does not
// depend on timing. The global bias mu, which every rating touches, is trained on a
// private copy per thread and the changes are summed after each round, in thread order.
#include <omp.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxnet/lib_api.h"

using namespace mxnet::ext;

namespace {

enum Input { kUser, kItem, kLabel, kP, kQ, kBu, kBi, kMu, kHP, kHQ, kHBu, kHBi, kHMu,
             kNumInputs };
using Attrs = std::unordered_map<std::string, std::string>;
constexpr int64_t kAhead = 8;  // ratings between a row's prefetch and its use

struct Settings {
  bool biased, nonneg, adagrad;
  float lr, reg, eps;
  int threads;
};

bool ReadSettings(const Attrs& attrs, Settings* s) {
  const char* names[] = {"biased", "nonneg", "adagrad", "lr", "reg", "eps", "threads"};
  for (const char* name : names) {
    if (attrs.count(name) == 0) {
      MX_ERROR_MSG << "gluonrec_mf_update: attribute '" << name << "' is missing";
      return false;
    }
  }
  s->biased = std::stoi(attrs.at("biased")) != 0;
  s->nonneg = std::stoi(attrs.at("nonneg")) != 0;
  s->adagrad = std::stoi(attrs.at("adagrad")) != 0;
  s->lr = std::stof(attrs.at("lr"));
  s->reg = std::stof(attrs.at("reg"));
  s->eps = std::stof(attrs.at("eps"));
  s->threads = std::stoi(attrs.at("threads"));
  if (s->threads < 1 || s->threads > 16) {
    MX_ERROR_MSG << "gluonrec_mf_update: threads must be in 1..16";
    return false;
  }
  return true;
}

// One parameter row (or scalar) with its Adagrad accumulator.
inline void Step(float* w, float* h, const float* g, int n, const Settings& s) {
  if (s.adagrad) {
    for (int f = 0; f < n; ++f) {
      h[f] += g[f] * g[f];
      w[f] -= s.lr * g[f] / std::sqrt(h[f] + s.eps);
    }
  } else {
    for (int f = 0; f < n; ++f) w[f] -= s.lr * g[f];
  }
}

struct Tables {
  float *P, *Q, *bu, *bi, *hP, *hQ, *hbu, *hbi;
  int64_t k;
};

// Train on the ratings order[begin:end) (positions begin..end-1 themselves when order is
// null); mu and hmu are this thread's copies.
// Returns the sum of squared errors before each update.
double TrainBlock(const int32_t* user, const int32_t* item, const float* label,
                  const int32_t* order, int64_t begin, int64_t end, const Tables& t,
                  float* mu, float* hmu, const Settings& s) {
#if defined(__SSE__)
  // Flush denormals to zero (FTZ and DAZ) on this thread: rows shrunk by the L2 penalty
  // reach denormal values, on which x86 arithmetic is ~100x slower.
  const unsigned int csr = _mm_getcsr();
  _mm_setcsr(csr | 0x8040);
#endif
  const int64_t k = t.k;
  std::vector<float> gp(k), gq(k);
  double loss = 0.0;
  for (int64_t j = begin; j < end; ++j) {
    if (j + kAhead < end) {  // the user rows are random accesses: fetch them early
      const int64_t ahead = user[order ? order[j + kAhead] : j + kAhead];
      for (int64_t f = 0; f < k; f += 16) {  // every 64-byte line of the row
        __builtin_prefetch(t.P + ahead * k + f, 1);
        if (s.adagrad) __builtin_prefetch(t.hP + ahead * k + f, 1);
      }
      if (s.biased) {
        __builtin_prefetch(t.bu + ahead, 1);
        if (s.adagrad) __builtin_prefetch(t.hbu + ahead, 1);
      }
    }
    const int64_t n = order ? order[j] : j;
    const int64_t u = user[n], i = item[n];
    float* p = t.P + u * k;
    float* q = t.Q + i * k;
    float pred = 0.f;
    for (int64_t f = 0; f < k; ++f) pred += p[f] * q[f];
    if (s.biased) pred += *mu + t.bu[u] + t.bi[i];
    const float e = pred - label[n];
    loss += static_cast<double>(e) * e;
    for (int64_t f = 0; f < k; ++f) {
      gp[f] = 2.f * (e * q[f] + s.reg * p[f]);
      gq[f] = 2.f * (e * p[f] + s.reg * q[f]);
    }
    Step(p, t.hP + u * k, gp.data(), static_cast<int>(k), s);
    Step(q, t.hQ + i * k, gq.data(), static_cast<int>(k), s);
    if (s.nonneg) {
      for (int64_t f = 0; f < k; ++f) {
        p[f] = std::max(p[f], 0.f);
        q[f] = std::max(q[f], 0.f);
      }
    }
    if (s.biased) {
      const float gbu = 2.f * (e + s.reg * t.bu[u]);
      const float gbi = 2.f * (e + s.reg * t.bi[i]);
      const float gmu = 2.f * e;
      Step(t.bu + u, t.hbu + u, &gbu, 1, s);
      Step(t.bi + i, t.hbi + i, &gbi, 1, s);
      Step(mu, hmu, &gmu, 1, s);
    }
  }
#if defined(__SSE__)
  _mm_setcsr(csr);
#endif
  return loss;
}

MXReturnValue ParseAttrs(const Attrs& attrs, int* num_in, int* num_out) {
  *num_in = kNumInputs;
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue InferType(const Attrs& attrs, std::vector<int>* in, std::vector<int>* out) {
  for (int j = 0; j < kNumInputs; ++j) {
    const int want = j <= kItem ? kInt32 : kFloat32;
    if ((*in)[j] != want) {
      MX_ERROR_MSG << "gluonrec_mf_update: input " << j << " must be "
                   << (want == kInt32 ? "int32" : "float32");
      return MX_FAIL;
    }
  }
  (*out)[0] = kFloat32;
  return MX_SUCCESS;
}

MXReturnValue InferShape(const Attrs& attrs, std::vector<std::vector<unsigned int>>* in,
                         std::vector<std::vector<unsigned int>>* out) {
  const auto& s = *in;
  if (s[kUser].size() != 1 || s[kUser] != s[kItem] || s[kUser] != s[kLabel]) {
    MX_ERROR_MSG << "gluonrec_mf_update: user, item and label must be 1-D of one length";
    return MX_FAIL;
  }
  if (s[kP].size() != 2 || s[kQ].size() != 2 || s[kP][1] != s[kQ][1]) {
    MX_ERROR_MSG << "gluonrec_mf_update: P and Q must be 2-D with the same width";
    return MX_FAIL;
  }
  (*out)[0] = {1};
  return MX_SUCCESS;
}

MXReturnValue MutateInputs(const Attrs& attrs, std::vector<int>* indices) {
  for (int j = kP; j < kNumInputs; ++j) indices->push_back(j);
  return MX_SUCCESS;
}

MXReturnValue Forward(const Attrs& attrs, std::vector<MXTensor>* inputs,
                      std::vector<MXTensor>* outputs, const OpResource& res) {
  Settings s;
  if (!ReadSettings(attrs, &s)) return MX_FAIL;
  auto& in = *inputs;
  const int64_t n = in[kUser].size();
  const int64_t num_users = in[kP].shape[0], num_items = in[kQ].shape[0];
  Tables t{in[kP].data<float>(), in[kQ].data<float>(), in[kBu].data<float>(),
           in[kBi].data<float>(), in[kHP].data<float>(), in[kHQ].data<float>(),
           in[kHBu].data<float>(), in[kHBi].data<float>(), in[kP].shape[1]};
  if (s.adagrad && (in[kHP].size() != in[kP].size() || in[kHQ].size() != in[kQ].size())) {
    MX_ERROR_MSG << "gluonrec_mf_update: Adagrad accumulators must match P and Q";
    return MX_FAIL;
  }
  if (s.biased && (in[kBu].size() != num_users || in[kBi].size() != num_items ||
                   (s.adagrad && (in[kHBu].size() != num_users ||
                                  in[kHBi].size() != num_items)))) {
    MX_ERROR_MSG << "gluonrec_mf_update: bias tables must have one entry per row";
    return MX_FAIL;
  }
  const int32_t* user = in[kUser].data<int32_t>();
  const int32_t* item = in[kItem].data<int32_t>();
  const float* label = in[kLabel].data<float>();
  const int T = s.threads;
  if (n > INT32_MAX) {
    MX_ERROR_MSG << "gluonrec_mf_update: a chunk holds at most 2^31 - 1 ratings";
    return MX_FAIL;
  }
  // One parallel pass: check the ids and note each rating's block.
  std::vector<uint8_t> blocks(T > 1 ? n : 0);
  int64_t bad = n;
#pragma omp parallel for num_threads(T) schedule(static) reduction(min : bad)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t u = user[j], i = item[j];
    if (u < 0 || u >= num_users || i < 0 || i >= num_items) {
      bad = std::min(bad, j);
    } else if (T > 1) {
      blocks[j] = static_cast<uint8_t>(((u >> 4) % T) * T + (i >> 4) % T);
    }
  }
  if (bad < n) {
    MX_ERROR_MSG << "gluonrec_mf_update: rating " << bad << " has user " << user[bad]
                 << ", item " << item[bad] << " outside the tables (" << num_users
                 << " x " << num_items << ")";
    return MX_FAIL;
  }
  // Counting sort of the ratings into the T x T blocks, keeping the chunk's order
  // (one thread trains the chunk in its own order).
  std::vector<int64_t> start(T * T + 1, 0);
  std::vector<int32_t> order(T > 1 ? n : 0);
  if (T == 1) {
    start[1] = n;
  } else {
    for (int64_t j = 0; j < n; ++j) ++start[blocks[j] + 1];
    for (int b = 0; b < T * T; ++b) start[b + 1] += start[b];
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t j = 0; j < n; ++j) order[fill[blocks[j]]++] = static_cast<int32_t>(j);
  }
  const int32_t* positions = T > 1 ? order.data() : nullptr;

  float* mu = in[kMu].data<float>();
  float* hmu = in[kHMu].data<float>();
  std::vector<double> losses(T, 0.0);
  std::vector<float> mus(T), hmus(T);
  for (int r = 0; r < T; ++r) {
    const float mu0 = *mu, hmu0 = *hmu;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int th = 0; th < T; ++th) {
      const int b = th * T + (th + r) % T;
      float my_mu = mu0, my_hmu = hmu0;  // on this thread's stack: no false sharing
      const double loss = TrainBlock(user, item, label, positions, start[b],
                                     start[b + 1], t, &my_mu, &my_hmu, s);
      losses[th] += loss;
      mus[th] = my_mu;
      hmus[th] = my_hmu;
    }
    double new_mu = mu0, new_hmu = hmu0;  // mu0 plus each thread's change, in order
    for (int th = 0; th < T; ++th) {
      new_mu += static_cast<double>(mus[th]) - mu0;
      new_hmu += static_cast<double>(hmus[th]) - hmu0;
    }
    *mu = static_cast<float>(new_mu);
    *hmu = static_cast<float>(new_hmu);
  }
  double total = 0.0;
  for (int th = 0; th < T; ++th) total += losses[th];
  (*outputs)[0].data<float>()[0] = static_cast<float>(total);
  return MX_SUCCESS;
}

}  // namespace

REGISTER_OP(gluonrec_mf_update)
    .setParseAttrs(ParseAttrs)
    .setInferType(InferType)
    .setInferShape(InferShape)
    .setMutateInputs(MutateInputs)
    .setForward(Forward, "cpu");

MXReturnValue initialize(int version) {
  if (version < 10900) {
    MX_ERROR_MSG << "gluonrec_mf_update needs MXNet >= 1.9.0, got " << version;
    return MX_FAIL;
  }
  return MX_SUCCESS;
}
