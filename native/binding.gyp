{
  # One target, plain node-addon-api with C++ exceptions disabled (errors are
  # thrown as pending JS exceptions, so no per-OS -fexceptions conditions are
  # needed). Built by native/build.js, never by npm's implicit
  # `node-gyp rebuild`, because this file is not at the package root.
  # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a reader thread terminated (shutdown,
  # a crashed thread replaced) while inside the addon must not abort the process
  # when node-addon-api cannot throw into an environment that is going away.
  "targets": [
    {
      "target_name": "rangeserve_native",
      "sources": ["src/rangeserve.cc", "src/zero-copy.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_FILE_OFFSET_BITS=64"
      ],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      }
    }
  ]
}
