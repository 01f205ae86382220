// The shipping service's own process; what it runs is module.cpp (also run by the monolith).
#include "module.hpp"

int main(int argc, char** argv) { return mercato::service::run(argc, argv, mercato::shipping::kModule); }
