# A service's layers as build targets (STYLE: domain ← app ← adapters, domain ← app ← api; the wiring,
# module.cpp, sees them all). The build enforces the direction two ways:
#   - libraries: each layer links only the libraries it names, so a header of another library (say
#     mercato/http/client.hpp in a domain file) is not on its include path and the build fails;
#   - the service's own headers: each layer compiles against a view of the service directory (symbolic
#     links under the build tree) holding only the layers it may include, so `#include "app/..."` in a
#     domain file, or `#include "api/..."` in an adapter, is "no such file" at build time.
# What may be named: domain its own headers (the libraries in DOMAIN_LIBS: lib/core and the value types it
# needs); app the domain; adapters and api the app and the domain, never each other.
#
#   mercato_service_layers(order
#     DOMAIN domain/order.cpp ...    DOMAIN_LIBS mercato_core
#     APP app/order_service.cpp ...  APP_LIBS mercato_events ...
#     ADAPTERS adapters/... ADAPTERS_LIBS mercato_sql ...
#     API api/handlers.cpp  API_LIBS mercato_http mercato_service ...)
#
# makes order_domain, order_app, order_adapters and order_api (static libraries, each linking the layers
# below it), and order_service: an interface library of all four with the service directory on its
# include path, for the wiring (module.cpp) and the unit tests, which may see everything.
function(mercato_service_layers name)
  cmake_parse_arguments(L "" "" "DOMAIN;DOMAIN_LIBS;APP;APP_LIBS;ADAPTERS;ADAPTERS_LIBS;API;API_LIBS" ${ARGN})
  set(below_domain "")
  set(below_app ${name}_domain)
  set(below_adapters ${name}_app)
  set(below_api ${name}_app)
  set(sees_domain domain)
  set(sees_app domain app)
  set(sees_adapters domain app adapters)
  set(sees_api domain app api)
  foreach(layer domain app adapters api)
    string(TOUPPER ${layer} upper)
    set(target ${name}_${layer})
    set(view ${CMAKE_CURRENT_BINARY_DIR}/layers/${layer})
    file(MAKE_DIRECTORY ${view})
    foreach(dir IN LISTS sees_${layer})
      if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir} AND NOT EXISTS ${view}/${dir})
        file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR}/${dir} ${view}/${dir} SYMBOLIC)
      endif()
    endforeach()
    if(L_${upper})
      add_library(${target} STATIC ${L_${upper}})
      target_include_directories(${target} PRIVATE ${view})
      # Consumers see the layer's headers through the service directory (order_service below).
      target_link_libraries(${target} PUBLIC ${below_${layer}} ${L_${upper}_LIBS})
    else()
      add_library(${target} INTERFACE)
      target_link_libraries(${target} INTERFACE ${below_${layer}} ${L_${upper}_LIBS})
    endif()
  endforeach()
  add_library(${name}_service INTERFACE)
  target_include_directories(${name}_service INTERFACE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name}_service INTERFACE ${name}_domain ${name}_app ${name}_adapters ${name}_api)
endfunction()

# A whole service in one call: its layers (the arguments of mercato_service_layers), the wiring
# (module.cpp) as <name>_module, a library so the service's binary and the monolith link the same code,
# the binary mercato-<name> (main.cpp), and the unit tests as <name>_test (with lib/testing).
# A service whose description says storage=sqlite (services/<name>/service.conf) opens its repository
# and event store through lib/storage, so its wiring links mercato_storage and mercato_events.
#
#   mercato_service(order
#     DOMAIN ... APP ... ADAPTERS ... API ...        (and their _LIBS, as for mercato_service_layers)
#     MODULE_LIBS ...                                (anything else module.cpp uses; optional)
#     TESTS domain/order_test.cpp ...)
function(mercato_service name)
  set(layer_keys DOMAIN DOMAIN_LIBS APP APP_LIBS ADAPTERS ADAPTERS_LIBS API API_LIBS)
  cmake_parse_arguments(S "" "" "${layer_keys};MODULE_LIBS;TESTS" ${ARGN})
  set(layers "")
  foreach(key IN LISTS layer_keys)
    list(APPEND layers ${key} ${S_${key}})
  endforeach()
  mercato_service_layers(${name} ${layers})

  add_library(${name}_module STATIC module.cpp)
  target_link_libraries(${name}_module PUBLIC ${name}_service mercato_service ${S_MODULE_LIBS})
  if(MERCATO_SERVICE_${name}_STORAGE STREQUAL "sqlite")
    target_link_libraries(${name}_module PUBLIC mercato_storage mercato_events)
  endif()

  add_executable(mercato-${name} main.cpp)
  target_link_libraries(mercato-${name} PRIVATE ${name}_module)

  mercato_test(${name}_test SOURCES ${S_TESTS} LIBS ${name}_service mercato_testing)
endfunction()
