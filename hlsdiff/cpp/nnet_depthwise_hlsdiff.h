// hlsdiff's corrected depthwise convolution for hls4ml 1.3.0 projects (Vivado/Vitis backends).
//
// Written into firmware/nnet_utils/ by `hlsdiff patch`; the top function calls
// nnet::hlsdiff::depthwise_conv_{1,2}d_cl instead of nnet::depthwise_conv_{1,2}d_cl for the
// layers that need it. What it corrects in the stock kernels:
//   - depth_multiplier > 1: the stock kernels assert(n_filt == n_chan) and abort. Here output
//     channel o = c * dm + m reads input channel c with the Keras kernel (kh, kw, C, dm)
//     flattened in that order, which is how hls4ml writes the weights file.
//   - Strategy Resource in io_parallel: the stock dispatcher asserts. Here every strategy runs
//     the same arithmetic; the pipeline initiation interval is the reuse factor and the
//     multiplier count is limited by mult_config::multiplier_limit, as in the stock kernel.
//     With dm > 1, the Resource strategy's transposed weight order is read (weight_index).
// Where the stock kernel was right (depth_multiplier 1, Latency; io_stream), the arithmetic
// is the stock one step for step: each product cast to accum_t, the bias as the first term,
// the sum cast to res_T with the same cast<>, so the results are bit-identical.
//
// Static loop bounds from CONFIG_T, no dynamic allocation, HLS pragmas as in the stock kernels.

#ifndef NNET_DEPTHWISE_HLSDIFF_H_
#define NNET_DEPTHWISE_HLSDIFF_H_

#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_mult.h"
#include "nnet_types.h"

// Loop labels name the loops for HLS directives; g++ sees them as unused labels.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

namespace nnet {
namespace hlsdiff {

template <typename CONFIG_T> struct depth_multiplier {
    static_assert(CONFIG_T::n_filt % CONFIG_T::n_chan == 0, "n_filt must be n_chan * depth_multiplier");
    static const unsigned value = CONFIG_T::n_filt / CONFIG_T::n_chan;
};

// Where the weight of tap t (row-major over the kernel) and output channel o lives. hls4ml
// writes the Keras kernel (kh, kw, C, dm) flattened; for the Resource strategy it transposes
// conv weights first, (kh, kw, C, dm) -> (dm, kh, kw, C) (ApplyResourceStrategy), which only
// moves anything when dm > 1.
template <typename CONFIG_T, unsigned n_taps> inline unsigned weight_index(unsigned tap, unsigned o) {
    #pragma HLS INLINE
    const unsigned dm = depth_multiplier<CONFIG_T>::value;
    if (dm > 1 && CONFIG_T::strategy != nnet::latency && CONFIG_T::strategy != nnet::distributed_arithmetic) {
        return (o % dm) * (n_taps * CONFIG_T::n_chan) + tap * CONFIG_T::n_chan + o / dm;
    }
    return tap * CONFIG_T::n_filt + o;
}

template <class in_T, typename CONFIG_T>
inline typename CONFIG_T::accum_t depthwise_product(in_T x, typename CONFIG_T::mult_config::weight_t w) {
    #pragma HLS INLINE
    return CONFIG_T::mult_config::template product<in_T, typename CONFIG_T::mult_config::weight_t>::product(x, w);
}

// ---- io_parallel ---------------------------------------------------------------------------
// The stock latency kernel's structure (fill_buffer from CONFIG_T, products, bias, taps), with
// n_filt = n_chan * dm outputs per pixel. Shared by the 2D and 1D entry points below.

template <class data_T, class res_T, typename CONFIG_T, unsigned n_taps>
void depthwise_conv_latency(data_T *data, res_T *res, typename CONFIG_T::weight_t *weights,
                            typename CONFIG_T::bias_t *biases) {
    #pragma HLS INLINE
    const unsigned dm = depth_multiplier<CONFIG_T>::value;
    const unsigned buf_n_in = n_taps * CONFIG_T::n_chan;
    const unsigned mult_n = n_taps * CONFIG_T::n_filt;

    data_T data_buf[CONFIG_T::n_pixels][buf_n_in];
    #pragma HLS ARRAY_PARTITION variable=data_buf complete dim=0
    typename CONFIG_T::accum_t mult[mult_n];
    #pragma HLS ARRAY_PARTITION variable=mult complete
    typename CONFIG_T::accum_t acc[CONFIG_T::n_filt];
    #pragma HLS ARRAY_PARTITION variable=acc complete
    #pragma HLS ARRAY_PARTITION variable=weights complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    #pragma HLS ALLOCATION operation instances=mul limit=CONFIG_T::mult_config::multiplier_limit

PartitionLoop:
    for (unsigned i_part = 0; i_part < CONFIG_T::n_partitions; i_part++) {
        #pragma HLS PIPELINE II=CONFIG_T::reuse_factor rewind
        CONFIG_T::template fill_buffer<data_T, CONFIG_T>::fill_buffer(data, data_buf, i_part);
    PixelLoop:
        for (unsigned i_pxl = 0; i_pxl < CONFIG_T::n_pixels; i_pxl++) {
            #pragma HLS UNROLL
        Product:
            for (unsigned i = 0; i < mult_n; i++) {
                #pragma HLS UNROLL
                const unsigned tap = i / CONFIG_T::n_filt;
                const unsigned chan = (i % CONFIG_T::n_filt) / dm;
                mult[i] = depthwise_product<data_T, CONFIG_T>(data_buf[i_pxl][tap * CONFIG_T::n_chan + chan],
                                                              weights[weight_index<CONFIG_T, n_taps>(tap, i % CONFIG_T::n_filt)]);
            }
        ResetAccum:
            for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
                #pragma HLS UNROLL
                acc[o] = (typename CONFIG_T::accum_t)biases[o];
            }
        Accum1:
            for (unsigned tap = 0; tap < n_taps; tap++) {
                #pragma HLS UNROLL
            Accum2:
                for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
                    #pragma HLS UNROLL
                    acc[o] += mult[tap * CONFIG_T::n_filt + o];
                }
            }
        Result:
            for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
                #pragma HLS UNROLL
                res[(i_part * CONFIG_T::n_pixels + i_pxl) * CONFIG_T::n_filt + o] =
                    cast<data_T, res_T, typename CONFIG_T::mult_config>(acc[o]);
            }
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void depthwise_conv_2d_cl(data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                          res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                          typename CONFIG_T::weight_t weights[CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_filt],
                          typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS INLINE recursive
    depthwise_conv_latency<data_T, res_T, CONFIG_T, CONFIG_T::filt_height * CONFIG_T::filt_width>(data, res, weights,
                                                                                                 biases);
}

template <class data_T, class res_T, typename CONFIG_T>
void depthwise_conv_1d_cl(data_T data[CONFIG_T::in_width * CONFIG_T::n_chan],
                          res_T res[CONFIG_T::out_width * CONFIG_T::n_filt],
                          typename CONFIG_T::weight_t weights[CONFIG_T::filt_width * CONFIG_T::n_filt],
                          typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    #pragma HLS INLINE recursive
    depthwise_conv_latency<data_T, res_T, CONFIG_T, CONFIG_T::filt_width>(data, res, weights, biases);
}

// ---- io_stream -----------------------------------------------------------------------------
// hls4ml inserts a ZeroPadding layer before a padded depthwise layer in io_stream, so the
// stream kernels see no padding. One pixel (all channels) per stream word in and out.

template <class data_T, class res_T, typename CONFIG_T>
void depthwise_conv_2d_cl(hls::stream<data_T> &data, hls::stream<res_T> &res,
                          typename CONFIG_T::weight_t weights[CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_filt],
                          typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    static_assert(CONFIG_T::pad_top == 0 && CONFIG_T::pad_bottom == 0 && CONFIG_T::pad_left == 0 &&
                      CONFIG_T::pad_right == 0,
                  "io_stream depthwise: padding is done by the ZeroPadding layer hls4ml inserts");
    static_assert(data_T::size == CONFIG_T::n_chan, "one input pixel per stream word");
    static_assert(res_T::size == CONFIG_T::n_filt, "one output pixel per stream word");
    typedef typename data_T::value_type in_T;
    const unsigned dm = depth_multiplier<CONFIG_T>::value;
    const unsigned fh = CONFIG_T::filt_height;
    const unsigned fw = CONFIG_T::filt_width;

    // The last filt_height input rows; row r of the image lives in rows[r % filt_height].
    in_T rows[CONFIG_T::filt_height][CONFIG_T::in_width][CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=rows complete dim=1
    #pragma HLS ARRAY_PARTITION variable=rows complete dim=3
    #pragma HLS ARRAY_PARTITION variable=weights complete
    #pragma HLS ARRAY_PARTITION variable=biases complete

ReadInputHeight:
    for (unsigned ih = 0; ih < CONFIG_T::in_height; ih++) {
    ReadInputWidth:
        for (unsigned iw = 0; iw < CONFIG_T::in_width; iw++) {
            #pragma HLS LOOP_FLATTEN
            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
            const data_T pixel = data.read();
        StoreChannels:
            for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                #pragma HLS UNROLL
                rows[ih % fh][iw][c] = pixel[c];
            }
            if (ih + 1 < fh || iw + 1 < fw || (ih + 1 - fh) % CONFIG_T::stride_height != 0 ||
                (iw + 1 - fw) % CONFIG_T::stride_width != 0)
                continue;
            typename CONFIG_T::accum_t acc[CONFIG_T::n_filt];
            #pragma HLS ARRAY_PARTITION variable=acc complete
        ResetAccum:
            for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
                #pragma HLS UNROLL
                acc[o] = (typename CONFIG_T::accum_t)biases[o];
            }
        TapRows:
            for (unsigned kh = 0; kh < fh; kh++) {
                #pragma HLS UNROLL
            TapCols:
                for (unsigned kw = 0; kw < fw; kw++) {
                    #pragma HLS UNROLL
                Accum:
                    for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
                        #pragma HLS UNROLL
                        const typename CONFIG_T::accum_t m = depthwise_product<in_T, CONFIG_T>(
                            rows[(ih + 1 - fh + kh) % fh][iw + 1 - fw + kw][o / dm],
                            weights[weight_index<CONFIG_T, CONFIG_T::filt_height * CONFIG_T::filt_width>(kh * fw + kw, o)]);
                        acc[o] += m;
                    }
                }
            }
            res_T out;
            PRAGMA_DATA_PACK(out)
        Result:
            for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
                #pragma HLS UNROLL
                out[o] = cast<in_T, typename res_T::value_type, typename CONFIG_T::mult_config>(acc[o]);
            }
            res.write(out);
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void depthwise_conv_1d_cl(hls::stream<data_T> &data, hls::stream<res_T> &res,
                          typename CONFIG_T::weight_t weights[CONFIG_T::filt_width * CONFIG_T::n_filt],
                          typename CONFIG_T::bias_t biases[CONFIG_T::n_filt]) {
    static_assert(CONFIG_T::pad_left == 0 && CONFIG_T::pad_right == 0,
                  "io_stream depthwise: padding is done by the ZeroPadding layer hls4ml inserts");
    static_assert(data_T::size == CONFIG_T::n_chan, "one input pixel per stream word");
    static_assert(res_T::size == CONFIG_T::n_filt, "one output pixel per stream word");
    typedef typename data_T::value_type in_T;
    const unsigned dm = depth_multiplier<CONFIG_T>::value;
    const unsigned fw = CONFIG_T::filt_width;

    // The last filt_width input pixels; pixel p lives in window[p % filt_width].
    in_T window[CONFIG_T::filt_width][CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=window complete dim=0
    #pragma HLS ARRAY_PARTITION variable=weights complete
    #pragma HLS ARRAY_PARTITION variable=biases complete

ReadInputWidth:
    for (unsigned iw = 0; iw < CONFIG_T::in_width; iw++) {
        #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
        const data_T pixel = data.read();
    StoreChannels:
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
            #pragma HLS UNROLL
            window[iw % fw][c] = pixel[c];
        }
        if (iw + 1 < fw || (iw + 1 - fw) % CONFIG_T::stride_width != 0)
            continue;
        typename CONFIG_T::accum_t acc[CONFIG_T::n_filt];
        #pragma HLS ARRAY_PARTITION variable=acc complete
    ResetAccum:
        for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
            #pragma HLS UNROLL
            acc[o] = (typename CONFIG_T::accum_t)biases[o];
        }
    Taps:
        for (unsigned kw = 0; kw < fw; kw++) {
            #pragma HLS UNROLL
        Accum:
            for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
                #pragma HLS UNROLL
                const typename CONFIG_T::accum_t m = depthwise_product<in_T, CONFIG_T>(
                    window[(iw + 1 - fw + kw) % fw][o / dm], weights[weight_index<CONFIG_T, CONFIG_T::filt_width>(kw, o)]);
                acc[o] += m;
            }
        }
        res_T out;
        PRAGMA_DATA_PACK(out)
    Result:
        for (unsigned o = 0; o < CONFIG_T::n_filt; o++) {
            #pragma HLS UNROLL
            out[o] = cast<in_T, typename res_T::value_type, typename CONFIG_T::mult_config>(acc[o]);
        }
        res.write(out);
    }
}

} // namespace hlsdiff
} // namespace nnet

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif
