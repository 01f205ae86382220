// The one translation unit that compiles Boost.Asio and Boost.Beast (see lib/asio/CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
